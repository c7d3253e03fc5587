// A real Orthanc (Debian package) with only its DICOMweb plugin, for integration tests and benchmarks.
// Each call starts its own server on a free loopback port with storage in a temporary folder. The GDCM
// plugin is never loaded: it crashes Orthanc 1.10 while transcoding. `suspend()`/`resume()` stop and
// start the same server on the same port with the same storage, for outage tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findFreePort } from './orthanc-port.ts';

export const ORTHANC_BINARY = '/usr/sbin/Orthanc';
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

export interface OrthancOptions {
  /** Seconds without new instances before Orthanc calls a series/study stable (default 1). */
  stableAgeSeconds?: number;
  /** How long to wait for /system to answer on start (default 30 s). */
  startTimeoutMs?: number;
  /** Extra top-level configuration keys (merged over the defaults). */
  config?: Record<string, unknown>;
}

export interface UploadedInstance {
  /** Orthanc's own instance id (not a DICOM UID). */
  id: string;
  /** "Success" or "AlreadyStored". */
  status: string;
}

export interface OrthancServer {
  /** DICOMweb root, e.g. http://127.0.0.1:PORT/dicom-web (no trailing slash). */
  baseUrl: string;
  /** Orthanc REST root, e.g. http://127.0.0.1:PORT. */
  restUrl: string;
  port: number;
  /** Folder holding config, storage and orthanc.log. */
  dir: string;
  /** PID of the running process, undefined while suspended. */
  pid(): number | undefined;
  /** Uploads Part 10 files through the REST API (POST /instances), in order. */
  upload(filePaths: readonly string[]): Promise<UploadedInstance[]>;
  /**
   * Stops the process and keeps the storage: SIGTERM (Orthanc takes ~2.5 s to shut down), SIGKILL after
   * 5 s; `{ crash: true }` kills it at once, like a power cut.
   */
  suspend(options?: { crash?: boolean }): Promise<void>;
  /** Starts the process again on the same port with the same storage; resolves when it answers. */
  resume(): Promise<void>;
  /** suspend() then resume(). */
  restart(): Promise<void>;
  /** Kills the process (SIGKILL: its storage is thrown away anyway) and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
  /** The last lines of Orthanc's log, for failure messages. */
  logTail(lines?: number): string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** If the test process dies first, no Orthanc outlives it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * A shell loop that SIGKILLs Orthanc if this process disappears without running its exit hook (killed
 * by a signal, e.g. a test runner timing out a worker).
 */
function startWatchdog(orthancPid: number): ChildProcess {
  const script = 'while kill -0 "$0" 2>/dev/null && kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -0 "$0" 2>/dev/null || kill -9 "$1" 2>/dev/null';
  const watchdog = spawn('/bin/sh', ['-c', script, String(process.pid), String(orthancPid)], { stdio: 'ignore' });
  watchdog.unref();
  return watchdog;
}

export async function startOrthanc(options: OrthancOptions = {}): Promise<OrthancServer> {
  installExitHook();
  const dir = mkdtempSync(path.join(tmpdir(), 'orthanc-test-'));
  const storage = path.join(dir, 'storage');
  const logPath = path.join(dir, 'orthanc.log');
  const port = await findFreePort();
  const configPath = path.join(dir, 'orthanc.json');
  writeFileSync(configPath, JSON.stringify({
    Name: `test-${port}`,
    HttpPort: port,
    DicomServerEnabled: false,
    StorageDirectory: storage,
    IndexDirectory: storage,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    HttpCompressionEnabled: false,
    StableAge: options.stableAgeSeconds ?? 1,
    ConcurrentJobs: 1,
    HttpThreadsCount: 8,
    Plugins: [DICOMWEB_PLUGIN],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, Ssl: false },
    ...options.config,
  }, null, 2));

  const restUrl = `http://127.0.0.1:${port}`;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  let child: ChildProcess | undefined;
  let stopped = false;

  async function launch(): Promise<void> {
    const logFd = openSync(logPath, 'a');
    const proc = spawn(ORTHANC_BINARY, [configPath], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    child = proc;
    live.add(proc);
    const watchdog = startWatchdog(proc.pid!);
    proc.once('exit', () => {
      live.delete(proc);
      watchdog.kill('SIGKILL');
    });
    await waitUntilReady(proc);
  }

  async function waitUntilReady(proc: ChildProcess): Promise<void> {
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`Orthanc exited during start-up (code ${proc.exitCode}):\n${logTail(30)}`);
      }
      try {
        const response = await fetch(`${restUrl}/system`, { signal: AbortSignal.timeout(1_000) });
        await response.arrayBuffer();
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await terminate('SIGKILL');
        throw new Error(`Orthanc did not answer within ${startTimeoutMs} ms:\n${logTail(30)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async function terminate(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  function logTail(lines = 20): string {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  try {
    await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    baseUrl: `${restUrl}/dicom-web`,
    restUrl,
    port,
    dir,
    pid: () => child?.pid,
    async upload(filePaths) {
      const results: UploadedInstance[] = [];
      for (const filePath of filePaths) {
        const bytes = await readFile(filePath);
        const response = await fetch(`${restUrl}/instances`, {
          method: 'POST',
          headers: { 'content-type': 'application/dicom' },
          body: bytes,
        });
        const text = await response.text();
        if (!response.ok) throw new Error(`Orthanc refused an upload: HTTP ${response.status}`);
        const parsed = JSON.parse(text) as { ID: string; Status: string };
        results.push({ id: parsed.ID, status: parsed.Status });
      }
      return results;
    },
    async suspend(suspendOptions) {
      await terminate(suspendOptions?.crash ? 'SIGKILL' : 'SIGTERM');
    },
    async resume() {
      if (stopped) throw new Error('Orthanc was stopped for good');
      if (child) return;
      await launch();
    },
    async restart() {
      await terminate();
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
    logTail,
  };
}
