#!/usr/bin/env node
// Validates the check-run request bodies captured by tests/check_run.rs
// against GitHub's published OpenAPI description (@octokit/openapi):
// `<n>-create.json` against the request body of
// POST /repos/{owner}/{repo}/check-runs, `<n>-update.json` against that of
// PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}. It also checks the
// limits GitHub documents in prose but not in the schema (titles, messages,
// characters above U+FFFF). Exits 1 on any invalid body, 2 on a usage or
// setup error.
//
// Usage: node validate.mjs <captured>.json...

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename } from "node:path";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const require = createRequire(import.meta.url);
const SPEC = "@octokit/openapi/generated/api.github.com.json";
const CREATE = ["/repos/{owner}/{repo}/check-runs", "post"];
const UPDATE = ["/repos/{owner}/{repo}/check-runs/{check_run_id}", "patch"];

function fail(code, message) {
  console.error(`validate.mjs: ${message}`);
  process.exit(code);
}

// Inlines every local `$ref` ("#/components/..."), so Ajv sees one
// self-contained schema. A cycle would inline for ever: refuse it.
function resolve(node, spec, seen = new Set()) {
  if (Array.isArray(node)) return node.map((n) => resolve(n, spec, seen));
  if (node === null || typeof node !== "object") return node;
  if (typeof node.$ref === "string") {
    const ref = node.$ref;
    if (!ref.startsWith("#/")) fail(2, `cannot resolve non-local $ref ${ref}`);
    if (seen.has(ref)) fail(2, `cyclic $ref ${ref}`);
    const target = ref
      .slice(2)
      .split("/")
      .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
      .reduce((at, key) => (at === undefined ? undefined : at[key]), spec);
    if (target === undefined) fail(2, `dangling $ref ${ref}`);
    return resolve(target, spec, new Set([...seen, ref]));
  }
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => [k, resolve(v, spec, seen)]),
  );
}

function requestSchema(spec, [path, method]) {
  const operation = spec.paths?.[path]?.[method];
  if (!operation) fail(2, `${method.toUpperCase()} ${path} is not in ${SPEC}`);
  const body = resolve(operation.requestBody, spec);
  const schema = body?.content?.["application/json"]?.schema;
  if (!schema) fail(2, `${method.toUpperCase()} ${path} has no JSON request body schema`);
  return schema;
}

// What GitHub's descriptions say and the schema does not enforce.
function documentedLimits(body) {
  const errors = [];
  const walk = (value, where) => {
    if (typeof value === "string") {
      if ([...value].some((c) => c.codePointAt(0) > 0xffff)) {
        errors.push(`${where}: a character above U+FFFF`);
      }
    } else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) walk(v, `${where}/${k}`);
    }
  };
  walk(body, "");
  const summary = body.output?.summary;
  if (typeof summary === "string" && Buffer.byteLength(summary) > 65535) {
    errors.push(`/output/summary: ${Buffer.byteLength(summary)} bytes, over 65,535`);
  }
  for (const [i, a] of (body.output?.annotations ?? []).entries()) {
    if (typeof a.title === "string" && [...a.title].length > 255) {
      errors.push(`/output/annotations/${i}/title: over 255 characters`);
    }
    if (typeof a.message === "string" && Buffer.byteLength(a.message) > 64 * 1024) {
      errors.push(`/output/annotations/${i}/message: over 64 KB`);
    }
    if (a.start_line < 1 || a.end_line < a.start_line) {
      errors.push(`/output/annotations/${i}: lines ${a.start_line}-${a.end_line}`);
    }
  }
  return errors;
}

const files = process.argv.slice(2);
if (files.length === 0) fail(2, "no captured request files given");

const spec = JSON.parse(readFileSync(require.resolve(SPEC), "utf8"));
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validators = {
  create: ajv.compile(requestSchema(spec, CREATE)),
  update: ajv.compile(requestSchema(spec, UPDATE)),
};

// Proof that the schemas bite: each of these must be refused.
const mustFail = [
  ["create", { name: "no head_sha" }],
  ["update", { status: "completed" }],
  ["update", { conclusion: "maybe" }],
  ["update", { output: { title: "t", summary: "s", annotations: Array(51).fill({ path: "p", start_line: 1, end_line: 1, annotation_level: "notice", message: "m" }) } }],
];
for (const [kind, body] of mustFail) {
  if (validators[kind](body)) fail(2, `the ${kind} schema accepted ${JSON.stringify(body).slice(0, 80)}: it was not loaded right`);
}

let bad = 0;
const counts = { create: 0, update: 0 };
for (const file of files) {
  const kind = /-(create|update)\.json$/.exec(basename(file))?.[1];
  if (!kind) fail(2, `${file}: not named <n>-create.json or <n>-update.json`);
  let body;
  try {
    body = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    bad++;
    continue;
  }
  const errors = [];
  if (!validators[kind](body)) {
    for (const e of validators[kind].errors) {
      errors.push(`${e.instancePath || "/"} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ""}`);
    }
  }
  errors.push(...documentedLimits(body));
  counts[kind]++;
  if (errors.length > 0) {
    bad++;
    console.error(`${file} (${kind}):`);
    for (const e of errors) console.error(`  ${e}`);
  }
}

const version = require("@octokit/openapi/package.json").version;
console.log(
  `check-run bodies against @octokit/openapi ${version}: ${counts.create} create, ${counts.update} update, ${bad} invalid`,
);
process.exit(bad === 0 ? 0 : 1);
