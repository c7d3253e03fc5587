// The Orthanc test rig: the server it starts, the plugins it loads, restart with storage kept, clean stop.
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureFixtures } from './fixtures.ts';
import { startOrthanc, type OrthancServer } from './orthanc.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startOrthanc', () => {
  let orthanc: OrthancServer | undefined;
  afterAll(async () => orthanc?.stop());

  it('starts Orthanc with only the DICOMweb plugin, keeps storage across a restart and cleans up on stop', async () => {
    const { samples } = await ensureFixtures();
    orthanc = await startOrthanc();
    expect(orthanc.baseUrl).toBe(`http://127.0.0.1:${orthanc.port}/dicom-web`);

    const plugins = (await (await fetch(`${orthanc.restUrl}/plugins`)).json()) as string[];
    // explorer.js is Orthanc's built-in pseudo-entry, not a loaded library.
    expect(plugins.filter((p) => p !== 'explorer.js')).toEqual(['dicom-web']);
    const studies = await fetch(`${orthanc.baseUrl}/studies`, { headers: { accept: 'application/dicom+json' } });
    expect(studies.headers.get('keep-alive')).toBe('timeout=1');
    expect(await studies.json()).toEqual([]);

    const [uploaded] = await orthanc.upload([samples.CT_small.path]);
    expect(uploaded!.status).toBe('Success');
    const firstPid = orthanc.pid()!;

    await orthanc.restart();
    expect(orthanc.pid()).not.toBe(firstPid);
    expect(alive(firstPid)).toBe(false);
    const instances = (await (await fetch(`${orthanc.restUrl}/instances`)).json()) as string[];
    expect(instances).toEqual([uploaded!.id]);

    // A crash (SIGKILL) keeps what was stored too.
    await orthanc.suspend({ crash: true });
    expect(orthanc.pid()).toBeUndefined();
    await orthanc.resume();
    expect((await (await fetch(`${orthanc.restUrl}/instances`)).json()) as string[]).toEqual([uploaded!.id]);

    const pid = orthanc.pid()!;
    await orthanc.stop();
    expect(alive(pid)).toBe(false);
    expect(existsSync(orthanc.dir)).toBe(false);
    await expect(fetch(`${orthanc.restUrl}/system`)).rejects.toThrow();
  });

  it('runs several servers side by side on different ports', async () => {
    const [a, b] = await Promise.all([startOrthanc(), startOrthanc()]);
    try {
      expect(a.port).not.toBe(b.port);
      for (const server of [a, b]) expect((await fetch(`${server.restUrl}/system`)).ok).toBe(true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
