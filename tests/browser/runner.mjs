// Load the local Pyodide, install wheels by URL, run a Python scenario.
import { loadPyodide } from "./pyodide/pyodide.mjs";

export async function runScenario(code, settings, wheels) {
  const pyodide = await loadPyodide({ indexURL: new URL("./pyodide/", import.meta.url).href });
  await pyodide.loadPackage(wheels);
  pyodide.globals.set("settings_json", JSON.stringify(settings));
  return await pyodide.runPythonAsync(code);
}
