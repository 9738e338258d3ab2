// web-ifc side of benchmarks/ifc_load.py: open one IFC file and triangulate every element.
//
// Usage: node benchmarks/webifc_load.mjs FILE.ifc
// Prints one JSON object on stdout:
//   {"file", "schema", "init_cpu_s", "load_cpu_s", "load_wall_s", "elements",
//    "placed_triangles", "unique_triangles", "web_ifc_version"}
// load_cpu_s is process.cpuUsage() (user + system, all threads) around reading the file,
// OpenModel, StreamAllMeshes and fetching each placed geometry's index buffer size — the
// same ground the Python loader covers. Init() (compiling the wasm) is timed apart, as
// Python imports are. Default loader settings, as an application would start with.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);
const WebIFC = require("web-ifc");
// package.json is not in web-ifc's "exports", so read it next to the resolved entry point.
const webIfcVersion = JSON.parse(
  readFileSync(join(dirname(require.resolve("web-ifc")), "package.json"), "utf8"),
).version;

function cpuSeconds(since) {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

async function main() {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: node webifc_load.mjs FILE.ifc");
    process.exit(2);
  }

  const api = new WebIFC.IfcAPI();
  const initStart = process.cpuUsage();
  await api.Init();
  const initCpu = cpuSeconds(initStart);

  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  const data = new Uint8Array(readFileSync(file));
  const modelID = api.OpenModel(data);
  if (modelID < 0) {
    throw new Error(`${file}: web-ifc could not open the model`);
  }
  let elements = 0;
  let placedTriangles = 0;
  const trianglesByGeometry = new Map();
  api.StreamAllMeshes(modelID, (mesh) => {
    elements += 1;
    const placed = mesh.geometries;
    for (let i = 0; i < placed.size(); i++) {
      const geometryID = placed.get(i).geometryExpressID;
      let triangles = trianglesByGeometry.get(geometryID);
      if (triangles === undefined) {
        const geometry = api.GetGeometry(modelID, geometryID);
        triangles = geometry.GetIndexDataSize() / 3;
        geometry.delete();
        trianglesByGeometry.set(geometryID, triangles);
      }
      placedTriangles += triangles;
    }
  });
  const loadCpu = cpuSeconds(cpuStart);
  const loadWall = (performance.now() - wallStart) / 1000;

  let uniqueTriangles = 0;
  for (const triangles of trianglesByGeometry.values()) uniqueTriangles += triangles;
  const schema = api.GetModelSchema(modelID);
  api.CloseModel(modelID);

  process.stdout.write(
    JSON.stringify({
      file,
      schema,
      init_cpu_s: initCpu,
      load_cpu_s: loadCpu,
      load_wall_s: loadWall,
      elements,
      placed_triangles: placedTriangles,
      unique_triangles: uniqueTriangles,
      web_ifc_version: webIfcVersion,
    }) + "\n",
  );
}

main().catch((error) => {
  console.error(`web-ifc benchmark failed: ${error && error.message ? error.message : error}`);
  process.exit(1);
});
