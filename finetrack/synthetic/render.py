"""Pixels of a synthetic scene: textured background, figures far-to-near, brightness/pixel noise."""
from __future__ import annotations

import math

import cv2
import numpy as np

from finetrack.synthetic.appearance import draw_figure
from finetrack.synthetic.scene import Scene


class SceneRenderer:
    """Renders the frames of a scene (background texture, figures, brightness/pixel noise).

    Args:
        scene: the scene.
        bg_texture, brightness_noise, pixel_noise: see :class:`SyntheticConfig`.
    """

    #: Light wall above the horizon and a grey-beige ground (BGR).
    WALL = (200, 198, 192)
    GROUND = (150, 158, 162)
    TEXTURE_CELL = 24  # pixels per cell of the low-frequency background texture
    NOISE_MARGIN = 16  # the pixel-noise bank is this much larger than the frame (random crops)
    NOISE_ZERO = 128  # the noise bank is stored as uint8 offset by this value

    def __init__(self, scene: Scene, bg_texture: float = 10.0, brightness_noise: float = 0.03,
                 pixel_noise: float = 2.0):
        self.scene = scene
        self.brightness_noise = brightness_noise
        rng = np.random.default_rng(scene.render_seed)
        self.rng = rng
        self.pan_margin = int(math.ceil(np.abs(scene.pan).max())) + 2
        self.background = self._background(rng, bg_texture)
        H, W = scene.height, scene.width
        m = self.NOISE_MARGIN
        grey = np.clip(np.rint(rng.standard_normal((H + m, W + m)) * pixel_noise) + self.NOISE_ZERO,
                       0, 255).astype(np.uint8)
        self.noise = np.repeat(grey[..., None], 3, axis=2)  # uint8, NOISE_ZERO = no change

    def _background(self, rng: np.random.Generator, amp: float) -> np.ndarray:
        sc = self.scene
        H, Wb = sc.height, sc.width + 2 * self.pan_margin
        horizon = int(round(sc.cam.horizon_frac * H))
        bg = np.empty((H, Wb, 3), dtype=np.float32)
        bg[:horizon] = self.WALL
        bg[horizon:] = self.GROUND
        c = self.TEXTURE_CELL
        low = rng.standard_normal((H // c + 3, Wb // c + 3)).astype(np.float32)
        low = cv2.resize(low, (Wb + 2 * c, H + 2 * c), interpolation=cv2.INTER_CUBIC)
        low = low[c:c + H, c:c + Wb]
        fine = rng.standard_normal((H, Wb)).astype(np.float32) * 0.3
        bg += (amp * (low + fine))[..., None]
        # paving: rows at 1 m depth steps, rays to the vanishing point
        cam = sc.cam
        for z in np.arange(cam.z_near - 1.0, cam.z_far * 2, 1.0):
            y = int(round(cam.horizon_frac * H + cam.cam_height * cam.focal / z))
            if horizon < y < H:
                bg[y] -= 0.8 * amp
        vx = Wb / 2
        for k in range(-12, 13):
            x_bottom = vx + k * sc.width / 6
            cv2.line(bg, (int(round(vx)), horizon), (int(round(x_bottom)), H - 1),
                     tuple(float(v - 0.8 * amp) for v in self.GROUND), 1)
        return np.clip(bg, 0, 255).astype(np.uint8)

    def background_at(self, frame: int) -> np.ndarray:
        """(H, W, 3) uint8 view of the background seen at a 1-based frame (before noise)."""
        off = self.pan_margin + int(round(self.scene.pan[frame - 1]))
        return self.background[:, off:off + self.scene.width]

    def render(self, frame: int) -> np.ndarray:
        """(H, W, 3) uint8 BGR image of a 1-based frame; call frames in order for determinism."""
        img = self.background_at(frame).copy()
        _, boxes, here = self.scene.frame_boxes(frame)
        for p, b in zip(here, boxes):
            draw_figure(img, b, p.appearance, float(p.track.phase[frame - 1]))
        gain = 1.0 + self.brightness_noise * float(self.rng.standard_normal())
        m = self.NOISE_MARGIN
        dy, dx = (int(v) for v in self.rng.integers(0, m + 1, 2))
        H, W = self.scene.height, self.scene.width
        noise = np.ascontiguousarray(self.noise[dy:dy + H, dx:dx + W])
        # saturate(img * gain + noise - NOISE_ZERO) in one pass
        return cv2.addWeighted(img, gain, noise, 1.0, -float(self.NOISE_ZERO), dtype=cv2.CV_8U)
