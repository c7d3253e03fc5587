// Black-box probes of a running service over its HTTP API: wait for states, never for time.
import type { RunView } from '../../src/queue/run-view.ts';

export const ENDED = ['completed', 'failed', 'dead-letter'];

/** Polls until `done` holds for what `read` returns; the error names the last value seen. */
export async function waitUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, tries = 1200): Promise<T> {
  let value: T | undefined;
  for (let i = 0; i < tries; i += 1) {
    value = await read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not reached; last seen: ${JSON.stringify(value)?.slice(0, 2000)}`);
}

export async function getRun(api: string, id: string): Promise<RunView | undefined> {
  const response = await fetch(`${api}/jobs/${id}`);
  return response.status === 200 ? ((await response.json()) as RunView) : undefined;
}

export async function studyRuns(api: string, studyInstanceUid: string): Promise<RunView[]> {
  return ((await (await fetch(`${api}/studies/${studyInstanceUid}/runs?limit=500`)).json()) as { jobs: RunView[] }).jobs;
}

export function waitForRun(
  api: string, id: string, done: (run: RunView) => boolean = (r) => ENDED.includes(r.state), tries = 1200,
): Promise<RunView> {
  return waitUntil(() => getRun(api, id), (run) => run !== undefined && done(run), `run ${id}`, tries) as Promise<RunView>;
}

/** No job of either stage is waiting, delayed or active (from /metrics): nothing more will start by itself. */
export async function queuesIdle(api: string): Promise<boolean> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const busy = [...text.matchAll(/^unimedvl_jobs\{queue="[^"]+",state="(waiting|delayed|active|prioritized)"\} (\d+)/gm)];
  return text.includes('unimedvl_jobs{') && busy.every((m) => m[2] === '0');
}

/** Waits until the queues are idle, then answers the study's runs (all ended by then). */
export async function settledStudyRuns(api: string, studyInstanceUid: string): Promise<RunView[]> {
  await waitUntil(() => queuesIdle(api), Boolean, 'idle queues');
  return studyRuns(api, studyInstanceUid);
}
