import { useEffect, useState } from 'preact/hooks';
import { formatMoney, formatUnits, parseUnits } from '../lib/format.js';
import type { State, Store } from '../state/store.js';

/** Stake presets and a free amount, kept within the server's limits. */
export function StakeBar({ store, state }: { store: Store; state: State }) {
  const { config, stake, paused } = state;
  const decimals = config?.currency.decimals ?? 2;
  const [text, setText] = useState(formatUnits(stake, decimals).replace(/,/g, ''));
  useEffect(() => setText(formatUnits(stake, decimals).replace(/,/g, '')), [stake, decimals]);
  if (!config) return null;
  const { min, max } = config.stake;
  const unit = 10 ** decimals;
  const presets = [...new Set([min, 1 * unit, 5 * unit, 10 * unit, 25 * unit, max].filter((v) => v >= min && v <= max))].sort((a, b) => a - b);
  const commit = (value: string) => {
    const v = parseUnits(value, decimals);
    if (v === undefined) return setText(formatUnits(stake, decimals).replace(/,/g, ''));
    store.setStake(Math.min(max, Math.max(min, v)));
  };
  return (
    <div class="stakebar">
      <fieldset class="stakes">
        <legend>Stake</legend>
        {presets.map((p) => (
          <button type="button" key={p} class={`chip${p === stake ? ' on' : ''}`} aria-pressed={p === stake} onClick={() => store.setStake(p)}>
            {formatMoney(p, config.currency)}
          </button>
        ))}
        <label class="amount">
          <span class="sr-only">Stake amount in {config.currency.code}</span>
          <input
            inputMode="decimal"
            value={text}
            data-testid="stake-input"
            aria-describedby="stake-limits"
            onInput={(e) => setText((e.target as HTMLInputElement).value)}
            onChange={(e) => commit((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => e.key === 'Enter' && commit((e.target as HTMLInputElement).value)}
          />
        </label>
        <span id="stake-limits" class="muted small">
          {formatMoney(min, config.currency)}–{formatMoney(max, config.currency)}
        </span>
      </fieldset>
      <button type="button" class="btn ghost" aria-pressed={paused} onClick={store.togglePause}>
        {paused ? 'Resume motion' : 'Pause motion'}
      </button>
    </div>
  );
}
