import assert from "node:assert/strict";
import { evaluateImage, meanScore } from "../../bench/evaluator.ts";
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
