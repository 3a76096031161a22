// The 3-D view of a `build` world (three.js, vendored in ./vendor): the blocks as cubes in the game's
// colour table (/api/info's build.colours and player_colours) with a legend, the goal as a translucent blueprint (sent to
// the human's seat only), both players, and a camera that orbits with the mouse. app.js sends each
// state it fetches as an "assist-state" event; the view redraws when the step or the episode changed.
import * as THREE from "three";
import { OrbitControls } from "three/addons/OrbitControls.js";

const PLAYERS = [["human_0", "human"], ["assistant_0", "assistant"]];
const FIRST_PLACEABLE = 2; // block ids below are air and bedrock (the floor, drawn as a plate)
const BLOCK_SIZE = 0.94; // a cube's edge, in voxels: the gaps between cubes show where one ends
const BLUEPRINT_OPACITY = 0.3;

const view = { draws: 0, blocks: 0, blueprint: 0, key: null }; // what was drawn, for tests and people's tools
window.view3d = view;

function colourOf([r, g, b]) { return new THREE.Color().setRGB(r / 255, g / 255, b / 255, THREE.SRGBColorSpace); }
function cssColour([r, g, b]) { return `rgb(${r}, ${g}, ${b})`; }

function voxels(info, material) {
  const [W, H, D] = info.build.shape;
  const mesh = new THREE.InstancedMesh(new THREE.BoxGeometry(BLOCK_SIZE, BLOCK_SIZE, BLOCK_SIZE), material, W * H * D);
  mesh.setColorAt(0, new THREE.Color()); // makes the per-cube colour buffer before the first draw
  mesh.count = 0;
  mesh.frustumCulled = false; // its bounds change with every state: never skip it
  return mesh;
}

// Cubes at the voxels `pick(v)` says, coloured by the block it returns (0: no cube); returns how many.
function fill(info, mesh, pick) {
  const [W, H, D] = info.build.shape;
  const place = new THREE.Matrix4();
  let n = 0;
  for (let x = 0; x < W; x++) {
    for (let y = 0; y < H; y++) {
      for (let z = 0; z < D; z++) {
        const block = pick((x * H + y) * D + z);
        if (block < FIRST_PLACEABLE) continue;
        mesh.setMatrixAt(n, place.makeTranslation(x + 0.5, y + 0.5, z + 0.5));
        mesh.setColorAt(n, colourOf(info.build.colours[block]));
        n++;
      }
    }
  }
  mesh.count = n;
  mesh.instanceMatrix.needsUpdate = true;
  mesh.instanceColor.needsUpdate = true;
  return n;
}

function label(text, x, y, z, size = 0.8) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 64;
  const ctx = canvas.getContext("2d");
  ctx.font = "bold 40px sans-serif";
  ctx.fillStyle = "#263238";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, 32, 32);
  const sprite = new THREE.Sprite(new THREE.SpriteMaterial({ map: new THREE.CanvasTexture(canvas) }));
  sprite.position.set(x, y, z);
  sprite.scale.set(size, size, size);
  return sprite;
}

// The floor (the top of the bedrock layer, y = 1) as a plate with a line between voxels, and the axes
// named and numbered (a number at the middle of its voxels' row, as in the layer panels' positions).
function floor(W, H, D) {
  const group = new THREE.Group();
  const plate = new THREE.Mesh(new THREE.BoxGeometry(W, 0.1, D), new THREE.MeshLambertMaterial({ color: 0xd5dadf }));
  plate.position.set(W / 2, 0.95, D / 2);
  const points = [];
  for (let x = 0; x <= W; x++) points.push(x, 1.001, 0, x, 1.001, D);
  for (let z = 0; z <= D; z++) points.push(0, 1.001, z, W, 1.001, z);
  const lines = new THREE.BufferGeometry().setAttribute("position", new THREE.Float32BufferAttribute(points, 3));
  const up = new THREE.BufferGeometry().setAttribute("position", new THREE.Float32BufferAttribute([0, 1, 0, 0, H, 0], 3));
  group.add(plate, new THREE.LineSegments(lines, new THREE.LineBasicMaterial({ color: 0x90a4ae })), new THREE.Line(up, new THREE.LineBasicMaterial({ color: 0x90a4ae })));
  group.add(label("x", W + 0.7, 1, -0.4), label("z", -0.4, 1, D + 0.7), label("y", 0, H + 0.4, 0));
  for (let x = 0; x < W; x++) group.add(label(String(x), x + 0.5, 1, -0.4, 0.6));
  for (let z = 0; z < D; z++) group.add(label(String(z), -0.4, 1, z + 0.5, 0.6));
  for (let y = 1; y < H; y++) group.add(label(String(y), -0.3, y + 0.5, -0.3, 0.6));
  return group;
}

function legend(info) {
  const items = info.build.blocks.slice(FIRST_PLACEABLE).map((name, i) => [name, cssColour(info.build.colours[i + FIRST_PLACEABLE]), ""]);
  for (const [agent, name] of PLAYERS) items.push([agent === info.seat ? `${name} (you)` : name, cssColour(info.build.player_colours[agent]), "round"]);
  if (info.seat === "human_0") items.push(["goal (blueprint)", "rgba(120, 144, 156, 0.35)", "ghost"]);
  document.getElementById("legend3d").replaceChildren(...items.map(([name, colour, kind]) => {
    const swatch = document.createElement("span");
    swatch.className = `swatch ${kind}`;
    swatch.style.background = colour;
    const item = document.createElement("li");
    item.append(swatch, name);
    return item;
  }));
}

function build(info) {
  const [W, H, D] = info.build.shape;
  const canvas = document.getElementById("world3d");
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(window.devicePixelRatio);
  renderer.setSize(canvas.width, canvas.height, false);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0xf7f9fa);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x9aa5ad, 2.2));
  const sun = new THREE.DirectionalLight(0xffffff, 1.6);
  sun.position.set(0.6 * W, 3 * H, 1.4 * D);
  scene.add(sun, floor(W, H, D));

  const blocks = voxels(info, new THREE.MeshLambertMaterial());
  const blueprint = voxels(info, new THREE.MeshLambertMaterial({ transparent: true, opacity: BLUEPRINT_OPACITY, depthWrite: false }));
  const players = PLAYERS.map(([agent]) => {
    const body = new THREE.Mesh(new THREE.CapsuleGeometry(0.24, 0.4, 4, 12), new THREE.MeshLambertMaterial());
    body.material.color = colourOf(info.build.player_colours[agent]);
    return body;
  });
  scene.add(blocks, blueprint, ...players);

  const camera = new THREE.PerspectiveCamera(40, canvas.width / canvas.height, 0.1, 500);
  const centre = new THREE.Vector3(W / 2, H / 3, D / 2);
  const reach = 1.3 * Math.max(W, H, D);
  camera.position.set(centre.x + 0.9 * reach, centre.y + 1.1 * reach, centre.z + 1.5 * reach);
  const controls = new OrbitControls(camera, canvas);
  controls.target.copy(centre);
  controls.update();
  const render = () => { renderer.render(scene, camera); view.draws++; };
  controls.addEventListener("change", render);

  return (state) => {
    const { world, goal } = state;
    view.blocks = fill(info, blocks, (v) => world[v]);
    view.blueprint = goal ? fill(info, blueprint, (v) => (world[v] === 0 ? goal[v] : 0)) : 0; // what is still to build
    PLAYERS.forEach(([agent], i) => {
      const [x, y, z] = state.players[agent];
      players[i].position.set(x + 0.5, y + 0.5, z + 0.5);
    });
    render();
  };
}

let redraw = null;
document.addEventListener("assist-state", (event) => {
  const { info, state } = event.detail;
  if (!info.build) return; // a game without a world (kitchen) has no 3-D view
  if (redraw === null) {
    document.getElementById("view3d").hidden = false;
    legend(info);
    try {
      redraw = build(info);
    } catch (error) {
      redraw = () => {};
      document.getElementById("view3d-note").textContent = "The 3-D view needs WebGL, which this browser did not give: " + error.message;
      return;
    }
  }
  const key = `${state.episode}:${state.t}`;
  if (key === view.key) return;
  view.key = key;
  redraw(state);
});
