import { describe, expect, it } from 'vitest';
import { dashboardStrip, type DashboardFigures } from '../../src/http/ui/dashboard-strip.ts';

const base: DashboardFigures = { queueCounts: { 'study-analysis': { waiting: 2, delayed: 1, active: 1 } }, lastHour: [], engine: undefined, quality: undefined };

describe('the console dashboard strip', () => {
  it('counts waiting and delayed jobs as waiting, and says when no model runs in this process', () => {
    const page = dashboardStrip(base).value;
    expect(page).toContain('<strong>3</strong> waiting · 1 active');
    expect(page).toContain('no model in this process');
  });

  it('shows no acceptance card while the review loop is off', () => {
    expect(dashboardStrip(base).value).not.toContain('Acceptance');
  });

  it('shows the acceptance rate per task and model version from the review figures', () => {
    const page = dashboardStrip({
      ...base,
      quality: {
        generatedAt: '2026-12-04T00:00:00.000Z',
        groups: [{ modelVersion: 'unimedvl-tiny@0.1.0', task: 'report', accepted: 2, edited: 1, rejected: 1, timedOut: 0, pending: 3, meanEditDistance: 0.2, acceptanceRate: 0.75 }],
      },
    }).value;
    expect(page).toContain('Acceptance');
    expect(page).toContain('75 %');
    expect(page).toContain('(3/4, 3 open)');
    expect(page).toContain('unimedvl-tiny@0.1.0');
  });

  it('says so before the first review', () => {
    expect(dashboardStrip({ ...base, quality: { generatedAt: '2026-12-04T00:00:00.000Z', groups: [] } }).value).toContain('no reviews yet');
  });
});
