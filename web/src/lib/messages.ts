/**
 * Every refusal code the server documents (README: HTTP API), as a sentence a player can act on.
 * The app branches on codes only; the server's prose message is a fallback for unknown codes.
 */
const SENTENCES: Record<string, string> = {
  // Sign-in
  'invalid-body': 'The request was malformed. Reload the page and try again.',
  'invalid-json': 'The request was malformed. Reload the page and try again.',
  'malformed-signature': 'Your wallet returned a signature the server could not read. Try signing again.',
  'malformed-message': 'The sign-in message was malformed. Reload the page and try again.',
  'address-not-checksummed': 'The wallet address was not in checksummed form. Try signing in again.',
  'domain-mismatch': 'The sign-in message names another site. Make sure you are on the right address.',
  'origin-mismatch': 'The sign-in message names another site. Make sure you are on the right address.',
  'scheme-mismatch': 'Sign in over HTTPS.',
  'chain-not-allowed': 'Your wallet is on a network this site does not accept. Switch network and sign in again.',
  'issued-at-skew': 'Your device clock is off by more than 30 seconds. Correct it and sign in again.',
  'message-expired': 'The sign-in request expired. Sign in again.',
  'message-not-yet-valid': 'The sign-in request is not valid yet. Check your device clock.',
  'bad-signature': 'The signature does not match your wallet address. Sign in again.',
  'nonce-reused': 'That sign-in request was already used. Sign in again.',
  'nonce-expired': 'The sign-in request timed out. Sign in again.',
  'cross-origin': 'The request came from another site and was refused.',
  'not-signed-in': 'Sign in with your wallet to tap.',
  'session-expired': 'Your session expired. Sign in again.',
  'invalid-authorization': 'Your session is not valid. Sign in again.',
  'unknown-account': 'No account was found for this session. Sign in again.',
  'user-rejected': 'You cancelled the request in your wallet.',
  'no-wallet': 'No wallet answered. Unlock your wallet or install one.',
  'wallet-chain': 'Your wallet could not switch to a network this site accepts.',
  // Taps
  'breaker-open': 'Trading is halted: the price feed is stale. Taps resume when prices are fresh again.',
  'quote-unknown': 'The grid moved on before your tap arrived. Tap again.',
  'quote-expired': 'The grid moved on before your tap arrived. Tap again.',
  'cell-unknown': 'That square is no longer on the grid. Try another square.',
  'cell-locked': 'That window starts too soon to tap. Try a later square.',
  'cell-disabled': 'That square is not offered right now. Try another square.',
  'stake-out-of-limits': 'That stake is outside the allowed limits.',
  'rate-limited': 'You are tapping too fast. Wait a moment and tap again.',
  'cell-liability-cap': 'That square is full. Try another square.',
  'column-liability-cap': 'That time window is full. Try another window.',
  'insufficient-funds': 'Insufficient balance: your available balance does not cover this stake.',
  'balance-loading': 'Your balance is still loading. Tap again in a moment.',
  'invalid-idempotency-key': 'The tap could not be sent. Reload the page and try again.',
  'idempotency-key-reused': 'The tap could not be matched to a bet. Check your bets before tapping again.',
  'outcome-unknown': 'We could not confirm whether your tap was placed. Check your bets before tapping again.',
  capacity: 'The service is at capacity right now. Your tap was not placed; try again in a few seconds.',
  'disk-low': 'The service is low on storage and is not taking taps. Try again later.',
  unavailable: 'The service is temporarily unavailable. Your tap was not placed; try again in a moment.',
  'market-unavailable': 'Waiting for current prices from the market.',
  'bet-unknown': 'That bet could not be found.',
  'bet-archived': 'That bet is in the archive. The operator can bring its week back if you need it.',
  network: 'The connection dropped. Check your network; we retry taps automatically.',
  internal: 'Something went wrong on our side. Try again.',
};

/** Why a bet ended as it did (the resolver's reasons), for the bet list and settlement view. */
const REASONS: Record<string, string> = {
  touched: 'The price touched the band during the window.',
  'not-touched': 'The price did not touch the band during the window.',
  'feed-gap': 'The price feed had a gap during the window, so the stake was refunded.',
};

export function sentenceFor(code: string, fallback?: string): string {
  return SENTENCES[code] ?? REASONS[code] ?? (fallback ? `${fallback.charAt(0).toUpperCase()}${fallback.slice(1)}.` : 'Something went wrong. Try again.');
}

export const knownCodes = (): string[] => Object.keys(SENTENCES);
