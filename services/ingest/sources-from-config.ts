/** Build the configured price sources (and the optional raw-message recorder). */
import { randomInt } from 'node:crypto';
import type { Config } from '../shared/config.js';
import { annualToPerSecond } from '../shared/pricing/volatility.js';
import type { PriceSource } from '../shared/market/tick.js';
import { binanceSource, coinbaseSource, createRecorder, createSyntheticSource, krakenSource } from './sources/index.js';

export function sourcesFromConfig(config: Config, onRecorderError: (err: Error) => void) {
  const recorder = config.feed.recordFile ? createRecorder({ file: config.feed.recordFile, onError: onRecorderError }) : undefined;
  const sources: PriceSource[] = config.feed.sources.map((name) => {
    const onRaw = recorder?.hook(name);
    switch (name) {
      case 'synthetic':
        return createSyntheticSource({
          startPriceCents: config.feed.synthetic.startPriceCents,
          sigmaPerSqrtS: annualToPerSecond(config.feed.synthetic.sigmaAnnual),
          tickIntervalMs: config.feed.synthetic.tickMs,
          seed: config.feed.synthetic.seed ?? randomInt(1, 2 ** 31),
        });
      case 'coinbase':
        return coinbaseSource(onRaw ? { onRaw } : {});
      case 'binance':
        return binanceSource(onRaw ? { onRaw } : {});
      case 'kraken':
        return krakenSource(onRaw ? { onRaw } : {});
    }
  });
  return { sources, recorder };
}
