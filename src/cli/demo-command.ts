import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runAnalyzeCommand } from './analyze-command.ts';

const SAMPLE_STUDY = fileURLToPath(new URL('../../samples/sample-study', import.meta.url));

/** `npm run demo`: the local analysis of the bundled sample study with the tiny bundle (or MODEL_DIR). */
export async function runDemoCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string', default: 'out/demo' } } });
  const usingTiny = !process.env.MODEL_DIR;
  console.log('unimedvl-plugin demo: analyzing the bundled sample study (CT, MR and a chest radiograph made from pydicom samples)');
  if (usingTiny) {
    console.log(
      'Model: the tiny test bundle (random weights, same interface as UniMedVL). Its report text and masks are\n' +
        'meaningless by design. To use the real model, export the published checkpoint to a bundle\n' +
        '(`npx unimedvl-plugin models export --checkpoint DIR --out DIR`, see models/README.md) and run\n' +
        '`MODEL_DIR=/path/to/bundle npm run demo` on a machine with enough memory (or a GPU: EXECUTION_PROVIDER=cuda).',
    );
  }
  return runAnalyzeCommand(['--dir', SAMPLE_STUDY, '--out', values.out!]);
}
