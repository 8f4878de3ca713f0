#!/usr/bin/env node
/** Composition root: the program of src/cli/program.ts, run on this process's arguments. */
import { keepYoungGenerationSmall } from './cli/batch-heap.js';

// Before any other module loads: how far V8's young generation grows while the policies and the client load sets the
// audit's peak memory (src/cli/batch-heap.ts). The verb is always the first argument (the program has no global options).
if (process.argv[2] === 'audit') keepYoungGenerationSmall(process.execArgv, process.env.NODE_OPTIONS);
const { buildProgram } = await import('./cli/program.js');
await buildProgram().parseAsync(process.argv);
