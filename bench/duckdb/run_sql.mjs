// Runs the SQL steps bench/run gives it in one single-threaded in-memory DuckDB and reports,
// per step, the CPU time (user + sys) and wall time it took, and the rows of steps that fetch.
//
//   node bench/duckdb/run_sql.mjs JOB.json      (JOB: {"steps": [{name, sql, fetch}]})
//
// Prints one JSON object: {"version", "steps": {name: {cpu_s, wall_s, rows?}}, "max_rss_kb"}.
// Exits 2 with a clear message when @duckdb/node-api cannot be loaded, so the runner can fail
// loudly instead of running without its oracle.
import { readFileSync } from 'node:fs';

let duckdb;
try {
    duckdb = await import('@duckdb/node-api');
} catch (e) {
    process.stderr.write(`error: cannot load @duckdb/node-api (${e.message}); ` +
                         'run `npm ci --prefix bench/duckdb` (scripts/setup-deps does)\n');
    process.exit(2);
}

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const instance = await duckdb.DuckDBInstance.create(':memory:', {
    threads: '1',
    preserve_insertion_order: 'true',
});
const connection = await instance.connect();
const version = (await connection.runAndReadAll('select version()')).getRows()[0][0];

// BigInt and DuckDB value objects to plain JSON (counts fit a double exactly here).
function plain(v) {
    if (typeof v === 'bigint') return Number(v);
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(plain);
    return String(v);
}

const steps = {};
for (const step of job.steps) {
    const cpu0 = process.cpuUsage();
    const wall0 = process.hrtime.bigint();
    let rows;
    try {
        if (step.fetch) {
            const reader = await connection.runAndReadAll(step.sql);
            rows = reader.getRows().map((r) => r.map(plain));
        } else {
            await connection.run(step.sql);
        }
    } catch (e) {
        process.stderr.write(`error: DuckDB step ${step.name} failed: ${e.message}\n${step.sql}\n`);
        process.exit(1);
    }
    const cpu = process.cpuUsage(cpu0);
    const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
    steps[step.name] = { cpu_s: (cpu.user + cpu.system) / 1e6, wall_s: wall };
    if (rows !== undefined) steps[step.name].rows = rows;
}
process.stdout.write(JSON.stringify({
    version,
    steps,
    max_rss_kb: process.resourceUsage().maxRSS,
}) + '\n');
