#!/usr/bin/env node
/** Composition root: the program of src/cli/program.ts, run on this process's arguments. */
import { buildProgram } from './cli/program.js';

await buildProgram().parseAsync(process.argv);
