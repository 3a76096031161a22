// The play page: polls api/state (relative to the page: the study server serves one page per participant),
// draws the world's layer panels, sends actions as the text codec's words; view3d.js draws the same states in 3-D.
"use strict";

const MOVE_KEYS = { w: "+z", s: "-z", a: "-x", d: "+x", e: "+y", q: "-y" };
const CELL = 28; // pixels per voxel
const GAP = 16; // pixels between layer panels
const PAD = 12; // pixels around the panels
const LABEL = 16; // pixels above each panel for its "y=" label
const MAX_BUTTONS = 40; // show a button per legal action when the game has at most this many
const REFRESH_MS = 200;

const $ = (id) => document.getElementById(id);
const canvas = $("world");
const ctx = canvas.getContext("2d");
let info = null;
let state = null;
const cursor = { x: 0, y: 1, z: 0 };
let blockIndex = 0;

async function api(path, body) {
  const options = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function say(text, isError) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

async function send(text) {
  try {
    const reply = await api("api/action", { text });
    say("queued: " + reply.queued, false);
  } catch (error) {
    say(error.message, true);
  }
  refresh();
}

// ---------------------------------------------------------------- geometry (build)

function shape() { return info.build.shape; }
function voxel(x, y, z) { const [, H, D] = shape(); return (x * H + y) * D + z; }
function cellRect(x, y, z) {
  const [W, , D] = shape();
  return { left: PAD + (y - 1) * (W * CELL + GAP) + x * CELL, top: PAD + LABEL + (D - 1 - z) * CELL };
}
function cellAt(px, py) {
  const [W, H, D] = shape();
  for (let y = 1; y < H; y++) {
    const origin = cellRect(0, y, D - 1);
    const x = Math.floor((px - origin.left) / CELL);
    const row = Math.floor((py - origin.top) / CELL);
    if (x >= 0 && x < W && row >= 0 && row < D) return { x, y, z: D - 1 - row };
  }
  return null;
}
// Where a voxel's cell is on the page (for people's tools and the end-to-end test).
window.cellCenter = (x, y, z) => {
  const r = cellRect(x, y, z);
  const box = canvas.getBoundingClientRect();
  return { x: box.left + r.left + CELL / 2, y: box.top + r.top + CELL / 2 };
};
window.cursor = cursor;

function colour(block, alpha) {
  const [r, g, b] = info.build.colours[block];
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

function draw() {
  if (!info || !info.build || !state) return;
  const [W, H, D] = shape();
  canvas.width = 2 * PAD + (H - 1) * (W * CELL + GAP) - GAP;
  canvas.height = 2 * PAD + LABEL + D * CELL;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "12px sans-serif";
  for (let y = 1; y < H; y++) {
    const origin = cellRect(0, y, D - 1);
    ctx.fillStyle = "#333";
    ctx.fillText(`y=${y}`, origin.left, origin.top - 4);
    for (let x = 0; x < W; x++) {
      for (let z = 0; z < D; z++) {
        const v = voxel(x, y, z);
        const block = state.world[v];
        const goal = state.goal ? state.goal[v] : 0;
        const r = cellRect(x, y, z);
        ctx.fillStyle = block > 0 ? colour(block, 1) : "#f7f9fa";
        ctx.fillRect(r.left, r.top, CELL, CELL);
        if (block === 0 && goal > 1) { // the goal as a faint blueprint
          ctx.fillStyle = colour(goal, 0.3);
          ctx.fillRect(r.left + 3, r.top + 3, CELL - 6, CELL - 6);
        }
        if (state.goal && block > 1 && goal !== block) { // a wrong block
          ctx.strokeStyle = "#c62828";
          ctx.beginPath();
          ctx.moveTo(r.left + 4, r.top + 4); ctx.lineTo(r.left + CELL - 4, r.top + CELL - 4);
          ctx.moveTo(r.left + CELL - 4, r.top + 4); ctx.lineTo(r.left + 4, r.top + CELL - 4);
          ctx.stroke();
        }
        ctx.strokeStyle = "#cfd8dc";
        ctx.strokeRect(r.left + 0.5, r.top + 0.5, CELL - 1, CELL - 1);
      }
    }
  }
  for (const [agent, letter] of [["human_0", "H"], ["assistant_0", "A"]]) {
    const [x, y, z] = state.players[agent];
    if (y < 1) continue;
    const r = cellRect(x, y, z);
    ctx.fillStyle = `rgb(${info.build.player_colours[agent].join(", ")})`;
    ctx.beginPath();
    ctx.arc(r.left + CELL / 2, r.top + CELL / 2, CELL / 2 - 4, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = "#fff";
    ctx.fillText(letter, r.left + CELL / 2 - 4, r.top + CELL / 2 + 4);
  }
  const c = cellRect(cursor.x, cursor.y, cursor.z);
  ctx.strokeStyle = "#f9a825";
  ctx.lineWidth = 3;
  ctx.strokeRect(c.left + 1.5, c.top + 1.5, CELL - 3, CELL - 3);
  ctx.lineWidth = 1;
}

// ---------------------------------------------------------------- controls

function selectedBlock() { return info.build.placeable[blockIndex]; }

function moveCursor(dx, dy, dz) {
  const [W, H, D] = shape();
  cursor.x = Math.min(W - 1, Math.max(0, cursor.x + dx));
  cursor.y = Math.min(H - 1, Math.max(1, cursor.y + dy));
  cursor.z = Math.min(D - 1, Math.max(0, cursor.z + dz));
  draw();
}

function placeAtCursor() { send(`place ${selectedBlock()} ${cursor.x} ${cursor.y} ${cursor.z}`); }
function breakAtCursor() { send(`break ${cursor.x} ${cursor.y} ${cursor.z}`); }

function onKey(event) {
  if (event.target.tagName === "INPUT" || !info || !info.build || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  const cursorMoves = { ArrowLeft: [-1, 0, 0], ArrowRight: [1, 0, 0], ArrowUp: [0, 0, 1], ArrowDown: [0, 0, -1], PageUp: [0, 1, 0], r: [0, 1, 0], PageDown: [0, -1, 0], f: [0, -1, 0] };
  if (key in MOVE_KEYS) send("move " + MOVE_KEYS[key]);
  else if (key in cursorMoves) moveCursor(...cursorMoves[key]);
  else if (/^[1-9]$/.test(key) && Number(key) <= info.build.placeable.length) selectBlock(Number(key) - 1);
  else if (key === "Enter" || key === "p") placeAtCursor();
  else if (key === "Backspace" || key === "Delete" || key === "x") breakAtCursor();
  else if (key === "n" || key === " ") send("noop");
  else return;
  event.preventDefault();
}

function selectBlock(index) {
  blockIndex = index;
  for (const [i, button] of [...$("palette").children].entries()) button.setAttribute("aria-pressed", String(i === index));
}

function setUpBuild() {
  const palette = $("palette");
  info.build.placeable.forEach((name, i) => {
    const button = document.createElement("button");
    button.type = "button";
    button.innerHTML = `<span class="swatch"></span>${i + 1} ${name}`;
    button.querySelector(".swatch").style.background = colour(i + 2, 1);
    button.addEventListener("click", () => selectBlock(i));
    palette.appendChild(button);
  });
  selectBlock(0);
  $("keys").textContent =
    "Keys: W A S D move in x and z, E / Q up and down; arrows and R / F (or PageUp / PageDown) move the cursor; " +
    "1-9 choose a block; Enter or P places it at the cursor, Backspace or X breaks there; N or Space is a no-op. " +
    "Mouse: click a cell to put the cursor there, double-click to place, right-click to break. " +
    (info.seat === "human_0" ? "Faint squares are the goal's blueprint; red crosses are wrong blocks." : "You cannot see the goal: watch what the human does.");
  canvas.addEventListener("click", (event) => {
    const cell = cellAt(event.offsetX, event.offsetY);
    if (cell) {
      Object.assign(cursor, cell);
      draw();
    }
  });
  canvas.addEventListener("dblclick", (event) => { if (cellAt(event.offsetX, event.offsetY)) placeAtCursor(); });
  canvas.addEventListener("contextmenu", (event) => {
    const cell = cellAt(event.offsetX, event.offsetY);
    if (!cell) return;
    event.preventDefault();
    Object.assign(cursor, cell);
    breakAtCursor();
  });
}

// ---------------------------------------------------------------- state

function describeLast(last) {
  if (!last) return "no step yet";
  return Object.entries(last).map(([agent, a]) => `${agent === info.seat ? "you" : agent}: ${a.action}${a.illegal ? " (illegal: no-op)" : ""}`).join("; ");
}

function showButtons() {
  const box = $("buttons");
  if (info.actions.length > MAX_BUTTONS) return;
  const legal = state.legal.map((a) => info.actions[a]);
  if (box.dataset.legal === legal.join("|")) return;
  box.dataset.legal = legal.join("|");
  box.replaceChildren(...legal.map((text) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = text;
    button.addEventListener("click", () => send(text));
    return button;
  }));
}

// What the status says at the end: a study session (info.study) saves itself and ends with its episode.
function endText() {
  if (!info.study) return "episode over: save it, or start a new one";
  return state.ended === "expired" ? "this session expired while the page was away" : "the session is over: thank you for taking part";
}

async function refresh() {
  try {
    state = await api("api/state");
  } catch (error) {
    $("status").textContent = "server unreachable: " + error.message;
    return;
  }
  window.lastState = state;
  $("t").textContent = state.t;
  $("episode").textContent = state.episode;
  $("goal-pct").textContent = state.metrics ? Math.round(state.metrics.goal_pct) : "?";
  $("last").textContent = describeLast(state.last);
  $("queued").textContent = state.queued.length ? "waiting: " + state.queued.join(", ") : "";
  $("status").textContent = state.error ? "stopped: " + state.error : state.ended || state.done ? endText() : "playing";
  $("start").hidden = state.clock !== "waiting";
  $("clock").textContent = { waiting: "the clock starts when you press Start", running: "", paused: "paused while you were away" }[state.clock] || "";
  $("prompt").textContent = state.prompt;
  $("text").textContent = info.build ? "" : state.text;
  $("text").hidden = Boolean(info.build);
  showButtons();
  draw();
  document.dispatchEvent(new CustomEvent("assist-state", { detail: { info, state } })); // for the 3-D view (view3d.js)
}

async function start() {
  info = await api("api/info");
  $("seat").textContent = `${info.game}, you play ${info.seat}` + (info.study ? `, participant ${info.study.participant}` : "");
  $("recording-buttons").hidden = Boolean(info.study); // the study saves the recording
  $("horizon").textContent = info.horizon;
  $("board").hidden = !info.build; // a game without a world (kitchen) has no board: its state is text
  if (info.build) setUpBuild();
  else $("text-action").placeholder = info.actions.slice(0, 3).join(", ");
  document.addEventListener("keydown", onKey);
  $("text-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("text-action");
    send(input.value);
    input.value = "";
  });
  $("save").addEventListener("click", async () => {
    try {
      const reply = await api("api/save", {});
      $("saved").textContent = `saved ${reply.episodes} episode(s) to ${reply.path}`;
    } catch (error) {
      say(error.message, true);
    }
  });
  $("start").addEventListener("click", async () => { await api("api/start", {}); refresh(); });
  $("new-episode").addEventListener("click", async () => { await api("api/new_episode", {}); refresh(); });
  await refresh();
  setInterval(refresh, REFRESH_MS);
}

start();
