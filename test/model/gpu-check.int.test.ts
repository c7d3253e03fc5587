// scripts/gpu-check.sh --tiny: the GPU readiness check's engine part runs here on CPU with the tiny
// bundle, tries every provider, reports each one that loads with its figures and each one that does
// not with the reason, and compares against the CPU provider.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

interface ProviderRow {
  provider: string;
  available: boolean;
  reason?: string;
  tokensPerSecond?: number;
  msPerFlowStep?: number;
  msPerFlowStepBatched?: number;
  maxLogitDiffVsCpu?: number;
  maxLatentDiffVsCpu?: number;
}

describe('scripts/gpu-check.sh', () => {
  it('runs understanding and an edit on every provider that loads and reports the rest with a reason', () => {
    const out = execFileSync('sh', [join(ROOT, 'scripts', 'gpu-check.sh'), '--tiny'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'], timeout: 300_000 }).toString();
    const line = out.split('\n').find((l) => l.startsWith('GPU-CHECK '));
    expect(line).toBeDefined();
    const report = JSON.parse(line!.slice('GPU-CHECK '.length)) as { providers: ProviderRow[]; decodeCalls: number; flowSteps: number };
    expect(report.providers.map((p) => p.provider)).toEqual(['cuda', 'webgpu', 'cpu']);
    for (const p of report.providers) {
      if (p.available) {
        expect(p.tokensPerSecond).toBeGreaterThan(0);
        expect(p.msPerFlowStep).toBeGreaterThan(0);
        expect(p.msPerFlowStepBatched).toBeGreaterThan(0);
        expect(Number.isFinite(p.maxLogitDiffVsCpu)).toBe(true);
        expect(Number.isFinite(p.maxLatentDiffVsCpu)).toBe(true);
      } else {
        expect(p.reason).toMatch(new RegExp(`^${p.provider}: `));
        expect(out).toContain(`${p.provider}: not available (${p.reason})`);
      }
    }
    const cpu = report.providers.find((p) => p.provider === 'cpu')!;
    expect(cpu.available).toBe(true);
    expect([cpu.maxLogitDiffVsCpu, cpu.maxLatentDiffVsCpu]).toEqual([0, 0]);
  }, 300_000);
});
