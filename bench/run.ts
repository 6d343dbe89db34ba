// `npm run bench`: each figure beside a reference measured in the same run, as a ratio.
import { benchBrokerThroughput } from './broker-throughput.js';

const messages = Number(process.env.BENCH_MESSAGES ?? 5000);

async function main(): Promise<void> {
  process.stdout.write(`broker throughput: ${messages} QoS 1 batches of 10 readings, 1 publisher -> 1 subscriber, 100 in flight\n`);
  const [ours, reference] = await benchBrokerThroughput(messages);
  if (!ours || !reference) throw new Error('benchmark produced no figures');
  for (const result of [ours, reference]) {
    process.stdout.write(`  ${result.name.padEnd(26)} ${Math.round(result.messagesPerSecond).toLocaleString('en').padStart(8)} msg/s\n`);
  }
  process.stdout.write(`  ${'ratio (ours / reference)'.padEnd(26)} ${(ours.messagesPerSecond / reference.messagesPerSecond).toFixed(2).padStart(8)}x\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
