// Heap figures of a child process started with `--inspect=127.0.0.1:0`, over the DevTools protocol
// (Node's global WebSocket): a forced full GC first, so what is left is what the process keeps.

/** The inspector's WebSocket URL, from the "Debugger listening on ws://..." line the child prints on stderr. */
export function inspectorUrl(stderr: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
}

/** Used JS heap in MB after a full garbage collection. */
export async function heapUsedAfterGcMb(url: string): Promise<number> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error('inspector connection failed')), { once: true });
  });
  let nextId = 0;
  const call = (method: string) => new Promise<Record<string, unknown>>((resolve) => {
    const id = ++nextId;
    const onMessage = (event: MessageEvent) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown> };
      if (message.id !== id) return;
      socket.removeEventListener('message', onMessage);
      resolve(message.result ?? {});
    };
    socket.addEventListener('message', onMessage);
    socket.send(JSON.stringify({ id, method }));
  });
  try {
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.getHeapUsage');
    return Number(usage.usedSize) / (1024 * 1024);
  } finally {
    socket.close();
  }
}
