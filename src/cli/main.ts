// Entry point of the `mmc` binary (bin/mmc.js imports this after `npm install` builds dist/).
import { main } from "./program.js";

process.exitCode = await main(process.argv);
