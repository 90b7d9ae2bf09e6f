import { useEffect, useState } from 'preact/hooks';
import type { State, Store } from './store.js';

/** Re-render on every store change; components read the state they need. */
export function useStore(store: Store): State {
  const [, setTick] = useState(0);
  useEffect(() => store.subscribe(() => setTick((x) => x + 1)), [store]);
  return store.get();
}
