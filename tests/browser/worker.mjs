import { runScenario } from "./runner.mjs";

self.onmessage = async (event) => {
  try {
    self.postMessage({ result: await runScenario(...event.data) });
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
