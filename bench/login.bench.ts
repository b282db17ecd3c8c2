import { benchServer, percentile, printTable, writeResults } from './lib.ts';

/**
 * `npm run bench:login`: what a sign-in attempt costs, and whether that cost tells an
 * attacker anything. Attempts for a known username with a wrong password, for an unknown
 * username and for a malformed one are interleaved (so drift hits all alike) from distinct
 * client addresses, with the username lock set out of reach so every attempt is evaluated.
 * Then, with the default limits, a burst of parallel guesses for one account: how many
 * password hashes it costs before the lock refuses the rest.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 150);

async function attempt(base: string, username: string, address: string): Promise<{ ms: number; status: number }> {
  const t0 = performance.now();
  const r = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
    body: JSON.stringify({ username, password: 'not-the-password' }),
  });
  await r.arrayBuffer();
  return { ms: performance.now() - t0, status: r.status };
}

const kinds = { 'known user, wrong password': 'admin', 'unknown user': 'nobody-by-that-name', 'malformed username': 'no such/user' } as const;
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));

const open = await benchServer({}, { LOGIN_MAX_FAILURES: '1000000', LOGIN_MAX_FAILURES_PER_ADDRESS: '1000000' });
for (let i = 0; i < ROUNDS; i++) {
  for (const [kind, username] of Object.entries(kinds)) {
    const r = await attempt(open.base, username, `198.18.${i % 250}.${Object.keys(kinds).indexOf(kind) + 1}`);
    if (r.status !== 401) throw new Error(`${kind}: expected 401, got ${r.status}`);
    if (i >= 10) samples[kind].push(r.ms); // the first rounds warm up the JIT and the pool
  }
}
await open.close();

const limited = await benchServer({});
const lockedSamples: number[] = [];
for (let i = 0; i < 5; i++) await attempt(limited.base, 'admin', '198.18.0.1');
for (let i = 0; i < 50; i++) {
  const r = await attempt(limited.base, 'admin', '198.18.0.1');
  if (r.status !== 429) throw new Error(`locked: expected 429, got ${r.status}`);
  lockedSamples.push(r.ms);
}
const t0 = performance.now();
const burst = await Promise.all(Array.from({ length: 200 }, () => attempt(limited.base, 'bench-burst', '198.18.1.1')));
const burstMs = performance.now() - t0;
await limited.close();

const row = (name: string, xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { attempt: name, n: s.length, 'p50 ms': +percentile(s, 50).toFixed(1), 'p90 ms': +percentile(s, 90).toFixed(1), 'p99 ms': +percentile(s, 99).toFixed(1) };
};
const rows = [...Object.keys(kinds).map((k) => row(k, samples[k])), row('while locked (429)', lockedSamples)];
printTable(rows);
const evaluated = burst.filter((r) => r.status === 401).length;
const burstRow = { parallel: burst.length, 'hashed (401)': evaluated, 'refused (429)': burst.filter((r) => r.status === 429).length, 'total ms': Math.round(burstMs) };
console.log('\nburst of parallel guesses for one username (default limits: 5 failures):');
printTable([burstRow]);
writeResults('login', { rounds: ROUNDS, rows, burst: burstRow });
