import assert from "node:assert/strict";
import { evaluateImage, meanScore, sameComposition } from "../../bench/evaluator.ts";
import { caption, heldOutScenes, renderScene, type Scene } from "../../bench/scenes.ts";

Deno.test("captions follow the trainer's grammar", () => {
  const scene: Scene = {
    objects: [
      { shape: "circle", color: "red", size: "large", position: "at the top left" },
      { shape: "triangle", color: "blue", size: "small", position: "on the right" },
    ],
    background: "beige",
    background2: "beige",
  };
  assert.equal(
    caption(scene),
    "a large red circle at the top left and a small blue triangle on the right on a plain beige background",
  );
});

Deno.test("the evaluator scores ground-truth renderings (nearly) perfectly", () => {
  const scenes = heldOutScenes(40, 7);
  const scores = scenes.map((s) => evaluateImage(s, renderScene(s, 128), 128, 128));
  const m = meanScore(scores);
  assert.ok(m.color >= 0.97, `color ${m.color}`);
  assert.ok(m.position >= 0.95, `position ${m.position}`);
  assert.ok(m.shape >= 0.9, `shape ${m.shape}`);
  assert.ok(m.size >= 0.9, `size ${m.size}`);
});

Deno.test("the evaluator notices wrong colours, shapes and positions", () => {
  const scene: Scene = {
    objects: [{ shape: "square", color: "green", size: "large", position: "in the center" }],
    background: "light gray",
    background2: "light gray",
  };
  const wrongColor = renderScene(
    { ...scene, objects: [{ ...scene.objects[0]!, color: "purple" }] },
    128,
  );
  assert.equal(evaluateImage(scene, wrongColor, 128, 128).color, 0);
  const wrongShape = renderScene({
    ...scene,
    objects: [{ ...scene.objects[0]!, shape: "triangle" }],
  }, 128);
  const s = evaluateImage(scene, wrongShape, 128, 128);
  assert.equal(s.color, 1);
  assert.equal(s.shape, 0);
  const wrongPlace = renderScene({
    ...scene,
    objects: [{ ...scene.objects[0]!, position: "at the bottom right" }],
  }, 128);
  assert.equal(evaluateImage(scene, wrongPlace, 128, 128).position, 0);
  const blank = renderScene({ ...scene, objects: [] }, 128);
  assert.equal(evaluateImage(scene, blank, 128, 128).all, 0);
});

Deno.test("sameComposition: softened or noisy renderings match, changed scenes do not", () => {
  const scene: Scene = {
    objects: [
      { shape: "circle", color: "red", size: "large", position: "at the top left" },
      { shape: "square", color: "blue", size: "small", position: "on the right" },
    ],
    background: "beige",
    background2: "pale blue",
  };
  const a = renderScene(scene, 128);
  const same = (b: Uint8Array) => sameComposition(a, b, 128, 128);
  assert.ok(same(a));
  // pixel noise of ±8 and a 3x3 box blur: the same picture
  const noisy = a.map((
    v,
    i,
  ) => (i % 4 === 3 ? v : Math.max(0, Math.min(255, v + ((i * 7919) % 17) - 8))));
  assert.ok(same(noisy));
  const blurred = a.slice();
  for (let y = 1; y < 127; y++) {
    for (let x = 1; x < 127; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) acc += a[((y + dy) * 128 + x + dx) * 4 + c]!;
        }
        blurred[(y * 128 + x) * 4 + c] = Math.round(acc / 9);
      }
    }
  }
  assert.ok(same(blurred));
  const change = (i: number, o: Partial<Scene["objects"][number]>) =>
    renderScene({
      ...scene,
      objects: scene.objects.map((x, k) => (k === i ? { ...x, ...o } : x)),
    }, 128);
  assert.ok(!same(change(0, { position: "at the top" })), "moved");
  assert.ok(!same(change(0, { shape: "triangle" })), "reshaped");
  assert.ok(!same(change(1, { color: "green" })), "recoloured");
  assert.ok(!same(change(0, { size: "small" })), "resized");
  assert.ok(!same(renderScene({ ...scene, objects: scene.objects.slice(0, 1) }, 128)), "dropped");
  assert.ok(
    !same(renderScene({ ...scene, background: "dark gray", background2: "dark gray" }, 128)),
  );
});
