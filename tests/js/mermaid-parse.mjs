// Parse a Mermaid diagram (stdin) with the mermaid package's own parser, as GitHub's renderer does, offline.
// Prints {"ok": true, "diagramType", "nodes": {id: label}, "edges": [[from, to]]} or {"ok": false, "error"};
// exit status 0 or 1. Labels are given with the entity codes (#35;) decoded, as mermaid shows them.
// mermaid sanitises labels with DOMPurify, which needs a DOM: jsdom gives it one before mermaid is loaded.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");

// mermaid's encodeEntities turns #35; into these markers at parse time and decodes them when it draws.
const decode = (text) =>
  text
    .replace(/ﬂ°°(\d+)¶ß/g, (_m, code) => String.fromCharCode(Number(code)))
    .replace(/ﬂ°(\w+)¶ß/g, (_m, name) => `&${name};`);

const text = readFileSync(0, "utf8");
try {
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
  const result = await mermaid.parse(text);
  const out = { ok: true, diagramType: result.diagramType };
  if (result.diagramType.startsWith("flowchart")) {
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    out.nodes = Object.fromEntries([...diagram.db.getVertices().values()].map((v) => [v.id, decode(v.text)]));
    out.edges = diagram.db.getEdges().map((e) => [e.start, e.end]);
  }
  console.log(JSON.stringify(out));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error && error.message ? error.message : error) }));
  process.exitCode = 1;
}
