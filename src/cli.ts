import { RESEARCH_USE_STATEMENT } from './shared/research-use-notice.ts';
import { startService, type ServiceMode } from './main.ts';
import { errorLine } from './cli/error-line.ts';

const USAGE = `unimedvl-plugin <command>

Commands:
  serve                 HTTP API and queue workers (npm start)
  api                   HTTP API only
  worker                queue workers only
  analyze --dir DIR --out DIR [--model DIR]
                        analyze a folder of DICOM files locally, no servers needed
  fhir install-profiles store our StructureDefinitions on FHIR_URL (conditional creates)
  models check [DIR]    verify a model bundle (checksums, graph I/O, execution providers)
  demo                  run the local analysis on the bundled sample with the tiny model

Configuration comes from environment variables (README.md, "Configuration").
UniMedVL results: ${RESEARCH_USE_STATEMENT}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
    case 'api':
    case 'worker':
      return runService(command);
    case 'fhir':
      return (await import('./cli/fhir-command.ts')).runFhirCommand(rest);
    case 'models':
      return (await import('./cli/models-command.ts')).runModelsCommand(rest);
    case 'analyze':
      return (await import('./cli/analyze-command.ts')).runAnalyzeCommand(rest);
    case 'demo':
      return (await import('./cli/demo-command.ts')).runDemoCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

async function runService(mode: ServiceMode): Promise<number> {
  const service = await startService(mode);
  await new Promise<void>((resolve, reject) => {
    const onSignal = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      service.stop().then(resolve, reject);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(errorLine(error));
  // Start-up may have opened connections (Redis) that would keep the process alive: leave now.
  process.exit(1);
}
