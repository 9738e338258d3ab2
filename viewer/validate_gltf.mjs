// Validate a glTF/GLB file with the Khronos glTF validator and print a JSON summary.
//
//   node viewer/validate_gltf.mjs FILE.glb [--max-messages N]
//
// Prints {file, validatorVersion, numErrors, numWarnings, numInfos, numHints, truncated,
// messages: [first N issues], info: {...}} and exits 1 when the file has errors, 2 when it
// cannot be read or the validator cannot parse it at all.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { validateBytes, version } from 'gltf-validator';

const args = process.argv.slice(2);
let maxMessages = 20;
const files = [];
for (let i = 0; i < args.length; i += 1) {
  if (args[i] === '--max-messages') {
    maxMessages = Number.parseInt(args[i + 1], 10);
    i += 1;
  } else {
    files.push(args[i]);
  }
}
if (files.length !== 1 || !Number.isFinite(maxMessages) || maxMessages < 0) {
  console.error('usage: node viewer/validate_gltf.mjs FILE.glb [--max-messages N]');
  process.exit(2);
}
const file = files[0];

let bytes;
try {
  bytes = new Uint8Array(await readFile(file));
} catch (error) {
  console.error(`error: cannot read ${file}: ${error.message}`);
  process.exit(2);
}

// External resources (a .gltf next to its .bin) are read from the file's folder.
const folder = path.dirname(path.resolve(file));
const externalResourceFunction = (uri) =>
  readFile(path.resolve(folder, decodeURIComponent(uri))).then((data) => new Uint8Array(data));

let report;
try {
  report = await validateBytes(bytes, {
    uri: path.basename(file),
    maxIssues: 0, // count every issue; only the first few are printed
    writeTimestamp: false,
    externalResourceFunction,
  });
} catch (error) {
  console.error(`error: the validator could not parse ${file}: ${error}`);
  process.exit(2);
}

const issues = report.issues;
const summary = {
  file,
  validatorVersion: version(),
  numErrors: issues.numErrors,
  numWarnings: issues.numWarnings,
  numInfos: issues.numInfos,
  numHints: issues.numHints,
  truncated: issues.messages.length > maxMessages,
  messages: issues.messages.slice(0, maxMessages),
  info: report.info,
};
console.log(JSON.stringify(summary, null, 2));
process.exit(issues.numErrors > 0 ? 1 : 0);
