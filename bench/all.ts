/**
 * `npm run bench`: the served, in-process, audit, worst-case and cluster figures (run.js) with the options given on the
 * command line (`npm run bench -- --quick`), then check's (check.js). One entry, because npm appends a script's
 * arguments to its last command only: with `run.js && check.js` in the script, `--quick` went to check.js, which reads
 * no options, and the full bench ran.
 */
await import('./run.js');
// A bench whose requests errored or got wrong answers stops there, as `run.js && check.js` did.
if (!process.exitCode) await import('./check.js');
