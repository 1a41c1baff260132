// The explorer page: asks /api/... for JSON and shows it. Each sound arrives as
// {wav, png (data URLs), seconds, verdict} (a reconstruction also {scores}). window.explorerTimings records, for each click or
// slider move, the milliseconds until its audio could play (what the latency figures measure).
"use strict";

const TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
window.explorerTimings = [];
let info = null;
let mapData = null;
let chosen = null;

async function ask(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, options);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
  $("error").hidden = !error;
}

// Plays a sound in an <audio> element and records how long after `started` it was ready.
function play(audio, sound, what, started) {
  audio.addEventListener("canplaythrough", () => {
    window.explorerTimings.push({what, ms: performance.now() - started});
    audio.dataset.ready = String(window.explorerTimings.length);
    audio.play().catch(() => {});  // a browser may refuse to play before the first click
  }, {once: true});
  audio.src = sound.wav;
}

function verdictText(sound) {
  return sound.verdict ? `judge: ${sound.verdict.digit} (${(100 * sound.verdict.confidence).toFixed(0)}%)` : "";
}

// A reconstruction's PESQ-NB (1-4.5) and STOI (0-1) against its clip, where the server scored them
// (the perceptual extra) and the clip allowed it (PESQ needs 1/4 s, STOI about 0.4 s of speech).
function scoresText(sound) {
  const scores = sound.scores || {};
  return [
    scores.pesq_nb == null ? "" : `PESQ-NB ${scores.pesq_nb.toFixed(2)}`,
    scores.stoi == null ? "" : `STOI ${scores.stoi.toFixed(2)}`,
  ].filter(Boolean).join(" · ");
}

function heardText(sound) {
  return [verdictText(sound), scoresText(sound)].filter(Boolean).join(" · ");
}

function soundFigure(sound, caption) {
  const figure = document.createElement("figure");
  const text = document.createElement("figcaption");
  text.textContent = [caption, verdictText(sound)].filter(Boolean).join(" · ");
  const img = document.createElement("img");
  img.src = sound.png;
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.src = sound.wav;
  figure.append(text, img, audio);
  return figure;
}

function colourOf(point) {
  if ($("map-colour").value === "label") return point.label >= 0 ? TAB10[point.label % 10] : "#000";
  const speakers = [...new Set(mapData.points.map((p) => p.speaker))].sort();
  return TAB10[speakers.indexOf(point.speaker) % 10];
}

function drawMap() {
  const svg = $("map");
  svg.replaceChildren();
  const width = +svg.getAttribute("width"), height = +svg.getAttribute("height"), pad = 30;
  const xs = mapData.points.map((p) => p.x).concat(mapData.components.map((c) => c.x));
  const ys = mapData.points.map((p) => p.y).concat(mapData.components.map((c) => c.y));
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = Math.min((width - 2 * pad) / (x1 - x0 || 1), (height - 2 * pad) / (y1 - y0 || 1));
  const left = (width - (x1 - x0) * scale) / 2, bottom = (height - (y1 - y0) * scale) / 2;
  const sx = (x) => left + (x - x0) * scale;
  const sy = (y) => height - bottom - (y - y0) * scale;
  const add = (name, attributes, text) => {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (text !== undefined) element.textContent = text;
    svg.append(element);
    return element;
  };
  for (const [x, y] of mapData.prior_samples) add("circle", {cx: sx(x), cy: sy(y), r: 1.5, fill: "#ccc"});
  for (const c of mapData.components) {
    const colour = c.label >= 0 ? TAB10[c.label % 10] : "#000";
    add("ellipse", {cx: sx(c.x), cy: sy(c.y), rx: c.width * scale / 2, ry: c.height * scale / 2,
      transform: `rotate(${-c.angle} ${sx(c.x)} ${sy(c.y)})`, fill: "none", stroke: colour,
      "stroke-dasharray": "4 3", opacity: 0.6});
    add("text", {x: sx(c.x) - 4, y: sy(c.y) + 4, fill: colour, "font-size": 11}, "×");
  }
  for (const p of mapData.points) {
    const title = `${p.name}${p.label >= 0 ? ` (digit ${p.label}, ${p.speaker})` : ""}`;
    let mark;
    if (p.label < 0 && !p.speaker) {
      mark = add("text", {x: sx(p.x) - 7, y: sy(p.y) + 6, class: "upload", "data-index": p.index}, "★");
    } else {
      mark = add("circle", {cx: sx(p.x), cy: sy(p.y), r: 4, fill: colourOf(p),
        class: "point" + (p.index === chosen ? " chosen" : ""), "data-index": p.index});
    }
    const tooltip = document.createElementNS(SVG, "title");
    tooltip.textContent = title;
    mark.append(tooltip);
    mark.addEventListener("click", () => chooseClip(p.index));
  }
  add("text", {x: width / 2, y: height - 6, "text-anchor": "middle", "font-size": 11, fill: "#555"}, mapData.axes[0]);
  add("text", {x: 12, y: height / 2, "font-size": 11, fill: "#555", "text-anchor": "middle",
    transform: `rotate(-90 12 ${height / 2})`}, mapData.axes[1]);
  const byLabel = $("map-colour").value === "label";
  const keys = [...new Set(mapData.points.filter((p) => p.label >= 0).map((p) => byLabel ? p.label : p.speaker))].sort();
  $("legend").replaceChildren(...keys.map((key) => {
    const span = document.createElement("span");
    span.textContent = byLabel ? `digit ${key}` : key;
    span.style.setProperty("--c", colourOf(byLabel ? {label: key} : {speaker: key, label: 0}));
    return span;
  }));
}

async function loadMap() {
  mapData = await ask(`/api/map?method=${$("map-method").value}`);
  drawMap();
}

async function chooseClip(index) {
  const started = performance.now();
  showError(null);
  chosen = index;
  try {
    const clip = await ask(`/api/clip/${index}`);
    $("clip-title").textContent = clip.label >= 0 ? `${clip.name}: digit ${clip.label}, ${clip.speaker}` : clip.name;
    $("original-png").src = clip.original.png;
    $("reconstruction-png").src = clip.reconstruction.png;
    $("reconstruction-verdict").textContent = heardText(clip.reconstruction);
    $("original-audio").src = clip.original.wav;
    play($("reconstruction-audio"), clip.reconstruction, "map click", started);
    drawMap();
  } catch (error) { showError(error); }
}

// Each clip keeps its index (an upload its own, after the test clips'), so a choice survives the
// list changing; a choice whose upload was dropped falls back to the first clip.
function fillClipChoices() {
  for (const select of document.querySelectorAll(".clip-choice")) {
    const kept = select.value;
    select.replaceChildren(...info.clips.map((clip) => new Option(clip.name, clip.index)));
    if (kept && info.clips.some((clip) => String(clip.index) === kept)) select.value = kept;
  }
  if (!$("interp-b").dataset.touched && info.clips.length > 1) $("interp-b").value = info.clips.at(-1).index;
}

async function sample() {
  showError(null);
  const digit = $("sample-digit").value;
  try {
    const sounds = await ask("/api/sample", {n: 4, temperature: +$("temperature").value,
      digit: digit === "" ? null : +digit, seed: Math.floor(Math.random() * 1e6)});
    $("samples").replaceChildren(...sounds.map((s, i) => soundFigure(s, digit === "" ? `sample ${i + 1}` : `digit ${digit}`)));
  } catch (error) { showError(error); }
}

async function interpolate() {
  showError(null);
  const steps = +$("interp-steps").value, beyond = +$("interp-beyond").value;
  try {
    const sounds = await ask("/api/interpolate", {a: +$("interp-a").value, b: +$("interp-b").value, steps, beyond});
    $("interpolation").replaceChildren(...sounds.map((s, i) => {
      const t = -beyond + (1 + 2 * beyond) * i / (steps - 1);
      return soundFigure(s, `t = ${t.toFixed(2)}`);
    }));
  } catch (error) { showError(error); }
}

async function loadSliders() {
  const index = +$("dims-clip").value;
  const dimensions = await ask(`/api/dimensions?clip=${index}`);
  showDimsSound(await ask("/api/move", {index, values: {}}));
  $("sliders").replaceChildren();
  for (const d of dimensions) {
    const label = document.createElement("label");
    label.textContent = `z${d.index} (KL ${d.kl.toFixed(2)})`;
    const slider = document.createElement("input");
    Object.assign(slider, {type: "range", min: d.low, max: d.high, step: (d.high - d.low) / 200});
    slider.dataset.dimension = d.index;
    slider.value = d.value;
    const value = document.createElement("output");
    value.textContent = d.value.toFixed(2);
    slider.addEventListener("change", () => moveSlider(slider, value));
    $("sliders").append(label, slider, value);
  }
}

async function moveSlider(slider, output) {
  const started = performance.now();
  showError(null);
  output.textContent = (+slider.value).toFixed(2);
  const values = {};
  for (const s of document.querySelectorAll("#sliders input")) {
    if (s.dataset.moved || s === slider) { values[s.dataset.dimension] = +s.value; s.dataset.moved = "1"; }
  }
  try {
    const sound = await ask("/api/move", {index: +$("dims-clip").value, values});
    showDimsSound(sound, started);
  } catch (error) { showError(error); }
}

function showDimsSound(sound, started) {
  $("dims-png").src = sound.png;
  $("dims-verdict").textContent = verdictText(sound);
  if (started === undefined) $("dims-audio").src = sound.wav;
  else play($("dims-audio"), sound, "slider move", started);
}

async function upload() {
  const file = $("upload-file").files[0];
  if (!file) return;
  $("upload-error").hidden = true;
  if (file.size > info.max_upload_bytes) {
    $("upload-error").textContent = `${file.name}: over the ${info.max_upload_bytes}-byte upload limit`;
    $("upload-error").hidden = false;
    return;
  }
  try {
    const response = await fetch("/api/upload", {method: "POST", body: file,
      headers: {"X-Filename": encodeURIComponent(file.name), "Content-Type": "application/octet-stream"}});
    const clip = await response.json();
    if (!response.ok) throw new Error(clip.error || response.statusText);
    $("upload-title").textContent = `${clip.name}: original`;
    $("upload-original-png").src = clip.original.png;
    $("upload-reconstruction-png").src = clip.reconstruction.png;
    $("upload-verdict").textContent = heardText(clip.reconstruction);
    $("upload-original-audio").src = clip.original.wav;
    play($("upload-reconstruction-audio"), clip.reconstruction, "upload", performance.now());
    const dropped = clip.dropped.map((d) => d.name).join(", ");
    $("upload-note").textContent = dropped ? `dropped the oldest upload, ${dropped}, to stay within ${info.max_uploads} uploads` : "";
    $("upload-note").hidden = !dropped;
    if (clip.dropped.some((d) => d.index === chosen)) chosen = null;
    info = await ask("/api/info");
    fillClipChoices();
    await loadMap();
  } catch (error) {
    $("upload-error").textContent = String(error.message || error);
    $("upload-error").hidden = false;
  }
}

async function start() {
  try {
    info = await ask("/api/info");
    $("model-info").textContent = `${info.prior}, ${info.latent_dim} latent dimensions, ${info.clips.length} test clips`;
    $("judge-info").textContent = info.judge ? "judge: available" : `judge unavailable (${info.judge_problem})`;
    if (info.conditional) {
      for (let d = 0; d < 10; d++) $("sample-digit").append(new Option(String(d), d));
    } else {
      $("digit-label").hidden = true;
    }
    fillClipChoices();
    await loadMap();
    await loadSliders();
    document.body.dataset.ready = "1";
  } catch (error) { showError(error); }
}

$("map-method").addEventListener("change", () => loadMap().catch(showError));
$("map-colour").addEventListener("change", drawMap);
$("temperature").addEventListener("input", () => { $("temperature-value").textContent = $("temperature").value; });
$("sample-button").addEventListener("click", sample);
$("interp-button").addEventListener("click", interpolate);
$("interp-b").addEventListener("change", () => { $("interp-b").dataset.touched = "1"; });
$("dims-clip").addEventListener("change", () => loadSliders().catch(showError));
$("upload-file").addEventListener("change", upload);
start();
