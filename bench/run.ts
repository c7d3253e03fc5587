// `npm run bench -- <name>`: runs one benchmark (or all). Each prints its figures as ratios against a
// baseline measured in the same run; none of them pass or fail.
const benches: Record<string, () => Promise<void>> = {
  ingest: async () => (await import('./ingest.ts')).runIngestBench(),
  model: async () => (await import('./model.ts')).runModelBench(),
  e2e: async () => {
    await (await import('./e2e.ts')).runEndToEndBench();
    console.log('\n--- whole-slide case ---');
    await (await import('./e2e-wsi.ts')).runWholeSlideBench();
  },
  // The whole-slide case of e2e on its own.
  'e2e-wsi': async () => (await import('./e2e-wsi.ts')).runWholeSlideBench(),
  parse: async () => (await import('./parse.ts')).runParseBench(),
};

const requested = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = requested.length > 0 ? requested : Object.keys(benches);
for (const name of names) {
  const bench = benches[name];
  if (!bench) {
    console.error(`unknown benchmark "${name}"; choose from: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== bench: ${name} ===`);
  await bench();
}
