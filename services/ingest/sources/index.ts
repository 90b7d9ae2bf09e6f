/** The price-source layer of the ingest process, in one import. */
export { binanceSource, BINANCE_URL, normaliseBinance } from './binance.js';
export { coinbaseSource, COINBASE_SUBSCRIBE, COINBASE_URL, normaliseCoinbase } from './coinbase.js';
export { krakenSource, KRAKEN_SUBSCRIBE, KRAKEN_URL, normaliseKraken } from './kraken.js';
export type { Normaliser } from './normalise.js';
export { createRecorder, type Recorder, type RecorderOptions, type RecorderStats, type RecordLine } from './recorder.js';
export { createReplaySource, EXCHANGE_NORMALISERS, loadRecording, parseRecording, replaySourceFromFile, type ReplaySource, type ReplaySourceOptions } from './replay.js';
export { createGbm, createGaussian, createPrng, createSyntheticSource, type GbmOptions, type SyntheticSourceOptions } from './synthetic.js';
export { createManualClock, systemTimers, type ManualClock, type TimerHandle, type Timers } from './timers.js';
export {
  backoffDelay,
  createWsSource,
  DEFAULT_BACKOFF,
  exchangeSource,
  type Backoff,
  type ExchangeSourceOptions,
  type WsConnect,
  type WsLike,
  type WsSourceOptions,
} from './ws-source.js';
