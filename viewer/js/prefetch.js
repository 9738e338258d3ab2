/**
 * What the first frame needs, asked for as soon as the page starts: the project list, then
 * the GLB of each model the opening view shows (from the URL, as main.js will decide it).
 *
 * This module imports nothing heavy (api.js and state.js, no three.js), and index.html runs
 * it as an async module of its own, so these requests go out while the browser is still
 * fetching and compiling three.js and the rest of the viewer — not after. loader.js takes
 * the bytes of a prefetched GLB instead of fetching it again; a prefetch that failed is
 * forgotten, and the loader's own request reports the error.
 */
import { fetchProjects, modelUrl } from './api.js';
import { baselineOf, initialView, modelsWanted, readUrl } from './state.js';

const prefetched = new Map(); // GLB URL → Promise<ArrayBuffer | null>

/** The server's project list (api.js fetchProjects), asked for once at start. */
export const projects = fetchProjects();

function prefetchModel(url) {
  const bytes = fetch(url).then((response) => (response.ok ? response.arrayBuffer() : null)).catch(() => null);
  prefetched.set(url, bytes);
}

projects.then((list) => {
  const asked = readUrl();
  const project = list.find((p) => p.name === asked.project) ?? list[0];
  if (!project?.states?.length) return;
  const wanted = modelsWanted(initialView(asked, project), baselineOf(project));
  for (const want of [wanted.left, wanted.right]) {
    if (want) prefetchModel(modelUrl(project.name, want.stateName, want.diffBase));
  }
}).catch(() => {}); // main.js reports a failed project list

/** Promise of the prefetched bytes of `url` (null when it was not prefetched or failed); each
 * prefetch is handed out once, so a later load of the same URL asks the server again. */
export function takePrefetched(url) {
  const bytes = prefetched.get(url) ?? Promise.resolve(null);
  prefetched.delete(url);
  return bytes;
}
