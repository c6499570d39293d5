#!/usr/bin/env python3
"""Reference trajectories for env's classic-control tests.

A line-for-line transcription of the step functions of Gymnasium 1.x
(gymnasium/envs/classic_control/pendulum.py, continuous_mountain_car.py,
cartpole.py, acrobot.py) and of mbrl-lib's mbrl/env/cartpole_continuous.py,
written in plain Python floats so that it needs nothing but python3. Python
floats are IEEE float64 and every operation rounds, as NumPy's float64 scalars
do; float32 arrays are modelled by rounding through struct. Each case starts
from a state set as env.unwrapped.state and steps a fixed list of actions.

    python3 scripts/gymnasium_classic.py > env/testdata/gymnasium_classic.json

The Go test (env/classic_test.go, TestGymnasiumReference) steps the same
cases and compares states, observations, rewards and flags. This file is the
reference, not a golden of the Go code: `go test -update` does not rewrite it.
"""

import json
import math
import struct
import sys


def f32(x):
    """Rounds x to float32 as numpy's astype(np.float32) does."""
    return struct.unpack("f", struct.pack("f", x))[0]


# ---------------------------------------------------------------- Pendulum-v1


def angle_normalize(x):
    # ((x + np.pi) % (2 * np.pi)) - np.pi; Python's float % takes the sign
    # of the divisor, as numpy's remainder does.
    return ((x + math.pi) % (2 * math.pi)) - math.pi


def pendulum_step(state, u):
    th, thdot = state
    g, m, l, dt = 10.0, 1.0, 1.0, 0.05
    max_speed, max_torque = 8, 2.0
    u = min(max(u[0], -max_torque), max_torque)  # np.clip(u, -2, 2)[0]
    costs = angle_normalize(th) ** 2 + 0.1 * thdot**2 + 0.001 * (u**2)
    newthdot = thdot + (3 * g / (2 * l) * math.sin(th) + 3.0 / (m * l**2) * u) * dt
    newthdot = min(max(newthdot, -max_speed), max_speed)
    newth = th + newthdot * dt
    state = [newth, newthdot]
    obs = [f32(math.cos(newth)), f32(math.sin(newth)), f32(newthdot)]
    return state, obs, -costs, False


# --------------------------------------------------- MountainCarContinuous-v0


def mountaincar_step(state, action):
    min_position, max_position = -1.2, 0.6
    max_speed, goal_position, goal_velocity, power = 0.07, 0.45, 0, 0.0015
    position, velocity = state
    force = min(max(action[0], -1.0), 1.0)
    velocity += force * power - 0.0025 * math.cos(3 * position)
    if velocity > max_speed:
        velocity = max_speed
    if velocity < -max_speed:
        velocity = -max_speed
    position += velocity
    if position > max_position:
        position = max_position
    if position < min_position:
        position = min_position
    if position == min_position and velocity < 0:
        velocity = 0
    terminated = bool(position >= goal_position and velocity >= goal_velocity)
    reward = 0
    if terminated:
        reward = 100.0
    reward -= math.pow(action[0], 2) * 0.1
    state = [f32(position), f32(velocity)]  # np.array(..., dtype=np.float32)
    return state, list(state), reward, terminated


# ---------------------------------------------- CartPole-v1 and mbrl-lib's one

GRAVITY, MASSCART, MASSPOLE = 9.8, 1.0, 0.1
TOTAL_MASS = MASSPOLE + MASSCART
LENGTH = 0.5
POLEMASS_LENGTH = MASSPOLE * LENGTH
FORCE_MAG, TAU = 10.0, 0.02
THETA_THRESHOLD = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4


def cartpole_dynamics(state, force):
    x, x_dot, theta, theta_dot = state
    costheta = math.cos(theta)
    sintheta = math.sin(theta)
    temp = (force + POLEMASS_LENGTH * theta_dot**2 * sintheta) / TOTAL_MASS
    thetaacc = (GRAVITY * sintheta - costheta * temp) / (
        LENGTH * (4.0 / 3.0 - MASSPOLE * costheta**2 / TOTAL_MASS)
    )
    xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS
    # kinematics_integrator == "euler"
    x = x + TAU * x_dot
    x_dot = x_dot + TAU * xacc
    theta = theta + TAU * theta_dot
    theta_dot = theta_dot + TAU * thetaacc
    state = [x, x_dot, theta, theta_dot]
    terminated = bool(
        x < -X_THRESHOLD
        or x > X_THRESHOLD
        or theta < -THETA_THRESHOLD
        or theta > THETA_THRESHOLD
    )
    return state, terminated


def cartpole_step(state, action):
    force = FORCE_MAG if action[0] == 1 else -FORCE_MAG
    state, terminated = cartpole_dynamics(state, force)
    # Reward 1.0 on every step up to and including the terminating one
    # (steps_beyond_terminated is None until then).
    return state, [f32(v) for v in state], 1.0, terminated


def cartpole_continuous_step(state, action):
    # mbrl-lib: force = action.squeeze() * force_mag, unclipped; the
    # observation is np.array(self.state), float64.
    state, terminated = cartpole_dynamics(state, action[0] * FORCE_MAG)
    return state, list(state), 1.0, terminated


# ----------------------------------------------------------------- Acrobot-v1

PI = math.pi
MAX_VEL_1 = 4 * PI
MAX_VEL_2 = 9 * PI
AVAIL_TORQUE = [-1.0, 0.0, +1]


def acrobot_dsdt(s_augmented):
    m1 = m2 = 1.0
    l1 = 1.0
    lc1 = lc2 = 0.5
    I1 = I2 = 1.0
    g = 9.8
    a = s_augmented[-1]
    theta1, theta2, dtheta1, dtheta2 = s_augmented[:-1]
    d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * math.cos(theta2)) + I1 + I2
    d2 = m2 * (lc2**2 + l1 * lc2 * math.cos(theta2)) + I2
    phi2 = m2 * lc2 * g * math.cos(theta1 + theta2 - PI / 2.0)
    phi1 = (
        -m2 * l1 * lc2 * dtheta2**2 * math.sin(theta2)
        - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * math.sin(theta2)
        + (m1 * lc1 + m2 * l1) * g * math.cos(theta1 - PI / 2)
        + phi2
    )
    # book_or_nips == "book"
    ddtheta2 = (
        a + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * math.sin(theta2) - phi2
    ) / (m2 * lc2**2 + I2 - d2**2 / d1)
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return [dtheta1, dtheta2, ddtheta1, ddtheta2, 0.0]


def rk4(derivs, y0, t):
    # One step of the loop in acrobot.py's rk4, elementwise as numpy does it.
    dt = t[1] - t[0]
    dt2 = dt / 2.0
    k1 = derivs(y0)
    k2 = derivs([y + dt2 * k for y, k in zip(y0, k1)])
    k3 = derivs([y + dt2 * k for y, k in zip(y0, k2)])
    k4 = derivs([y + dt * k for y, k in zip(y0, k3)])
    h = dt / 6.0
    y1 = [
        y + h * (((a + 2 * b) + 2 * c) + d)
        for y, a, b, c, d in zip(y0, k1, k2, k3, k4)
    ]
    return y1[:4]


def wrap(x, m, M):
    diff = M - m
    while x > M:
        x = x - diff
    while x < m:
        x = x + diff
    return x


def bound(x, m, M):
    return min(max(x, m), M)


def acrobot_step(state, action):
    torque = AVAIL_TORQUE[int(action[0])]
    ns = rk4(acrobot_dsdt, list(state) + [torque], [0, 0.2])
    ns[0] = wrap(ns[0], -PI, PI)
    ns[1] = wrap(ns[1], -PI, PI)
    ns[2] = bound(ns[2], -MAX_VEL_1, MAX_VEL_1)
    ns[3] = bound(ns[3], -MAX_VEL_2, MAX_VEL_2)
    terminated = bool(-math.cos(ns[0]) - math.cos(ns[1] + ns[0]) > 1.0)
    reward = -1.0 if not terminated else 0.0
    obs = [
        f32(math.cos(ns[0])),
        f32(math.sin(ns[0])),
        f32(math.cos(ns[1])),
        f32(math.sin(ns[1])),
        f32(ns[2]),
        f32(ns[3]),
    ]
    return ns, obs, reward, terminated


# ------------------------------------------------------------------ the cases

STEP = {
    "Pendulum-v1": (pendulum_step, 200),
    "MountainCarContinuous-v0": (mountaincar_step, 999),
    "CartPole-v1": (cartpole_step, 500),
    "Acrobot-v1": (acrobot_step, 500),
    "ContinuousCartPole-v0": (cartpole_continuous_step, 200),
}


def wave(n, amp, freq, phase=0.0):
    """n one-element actions amp*sin(freq*t + phase), rounded to 1e-6 so the
    JSON holds them exactly as written."""
    return [[round(amp * math.sin(freq * t + phase), 6)] for t in range(n)]


def cycle(n, values):
    return [[values[t % len(values)]] for t in range(n)]


CASES = [
    # Pendulum: a swing with torques beyond ±2 (clipped), a speed clip, and
    # angles outside [-π, π) for angle_normalize.
    ("Pendulum-v1", "swing", [2.5, -1.2], wave(40, 3.0, 0.7)),
    ("Pendulum-v1", "speed-clip", [0.3, 7.9], cycle(5, [2.0])),
    ("Pendulum-v1", "wrap", [7.0, 0.5], cycle(5, [-0.5, 1.0])),
    ("Pendulum-v1", "wrap-negative", [-4.0, -3.0], cycle(5, [0.25])),
    # MountainCarContinuous: the valley with forces beyond ±1, the left wall
    # (position clip, velocity reset), the speed clip, the goal with and
    # without goal_velocity, and the right-hand position clip.
    ("MountainCarContinuous-v0", "valley", [-0.5, 0.0], wave(60, 1.3, 0.15)),
    ("MountainCarContinuous-v0", "left-wall", [-1.19, -0.06], cycle(3, [-1.0])),
    ("MountainCarContinuous-v0", "speed-clip", [-0.7, 0.069], cycle(3, [1.0])),
    ("MountainCarContinuous-v0", "speed-clip-left", [-0.2, -0.069], cycle(3, [-1.0])),
    ("MountainCarContinuous-v0", "goal", [0.44, 0.03], cycle(1, [0.5])),
    ("MountainCarContinuous-v0", "goal-moving-left", [0.52, -0.01], cycle(3, [-2.0])),
    ("MountainCarContinuous-v0", "right-clip", [0.59, 0.07], cycle(1, [1.0])),
    # CartPole: a run to termination, a fall past ±12°, the right edge.
    ("CartPole-v1", "balance", [0.01, -0.02, 0.03, 0.04], cycle(60, [1, 1, 0, 1, 0, 0])),
    ("CartPole-v1", "fall", [0.0, 0.0, 0.2, 0.5], cycle(1, [1])),
    ("CartPole-v1", "edge", [2.39, 1.0, 0.0, 0.0], cycle(1, [0])),
    # Acrobot: a short swing, angles wrapping past ±π, velocity clips, and
    # the terminal height.
    ("Acrobot-v1", "swing", [0.05, -0.03, 0.02, 0.01], cycle(30, [2, 2, 1, 0, 0, 1])),
    ("Acrobot-v1", "wrap", [3.1, 3.0, 3.0, -5.0], cycle(3, [0])),
    ("Acrobot-v1", "vel-clip", [0.0, 0.0, 12.5, 28.0], cycle(2, [2])),
    ("Acrobot-v1", "terminal", [2.0, 0.5, 1.0, 1.0], cycle(1, [1])),
    # ContinuousCartPole: forces beyond ±1 are applied unclipped.
    ("ContinuousCartPole-v0", "balance", [0.01, -0.02, 0.03, 0.04], wave(60, 1.5, 0.5)),
    ("ContinuousCartPole-v0", "fall", [0.0, 0.3, -0.2, -0.5], cycle(1, [-1.0])),
]


def run(env, name, state, actions):
    step, max_steps = STEP[env]
    out = []
    for t, a in enumerate(actions):
        state, obs, reward, terminated = step(state, a)
        truncated = t + 1 >= max_steps
        out.append(
            {
                "action": a,
                "state": state,
                "obs": obs,
                "reward": reward,
                "terminated": terminated,
                "truncated": truncated,
            }
        )
        if terminated or truncated:
            break
    return {"env": env, "name": name, "state": STATES[(env, name)], "steps": out}


STATES = {(env, name): list(s) for env, name, s, _ in CASES}


def main():
    doc = {
        "source": "scripts/gymnasium_classic.py: a float64 transcription of "
        "Gymnasium 1.x classic_control and mbrl-lib cartpole_continuous",
        "cases": [run(env, name, list(s), acts) for env, name, s, acts in CASES],
    }
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
