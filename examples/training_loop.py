"""A small training loop: a NumPy MLP that regresses bounding boxes with the smooth L1 loss.

Each sample is a feature vector (say, a region's embedding) and its box offsets
``(dx, dy, dw, dh)``, as in Fast/Faster R-CNN, whose box loss is smooth L1 with beta = 1/9.
A few percent of the training labels are annotation errors, far off; the validation labels
are clean.

    python examples/training_loop.py            # 20,000 samples, 12 epochs
    python examples/training_loop.py --small    # 2,000 samples, 6 epochs
                                                # (or SMOOTHL1_EXAMPLES_SMALL=1)

Every array a training step touches is allocated once, before the loop: the batch, the hidden
layer, the prediction, the gradients and the momenta. A step fills them in place (``out=``
arguments, and ``grad_out=`` for the loss gradient), so it allocates nothing of the batch's
size. The script proves it at the end with tracemalloc, which sees NumPy's allocations: it
measures the peak memory one step allocates at the training batch size and at 8 times that,
next to the same step written the usual NumPy way (a new array for every intermediate).
"""
import argparse
import os
import tracemalloc

import numpy as np

import smoothl1

N_FEATURES, N_HIDDEN, N_OUTPUTS = 16, 64, 4
BETA = 1.0 / 9.0  # Faster R-CNN's choice for box regression
DTYPE = np.float32


def make_data(n, label_error_fraction, rng):
    """Features, clean box offsets (a non-linear function of them) and noisy labels.

    The noisy labels add a little noise everywhere and gross errors (3 to 10 off, either way)
    to a fraction of the samples: annotation mistakes.
    """
    teacher = rng.standard_normal((N_FEATURES, N_OUTPUTS)) / np.sqrt(N_FEATURES)
    X = rng.standard_normal((n, N_FEATURES))
    clean = np.tanh(X @ teacher) + 0.3 * np.sin(2.0 * X[:, :N_OUTPUTS])
    noisy = clean + 0.02 * rng.standard_normal(clean.shape)
    wrong = rng.random(n) < label_error_fraction
    noisy[wrong] += rng.choice([-1.0, 1.0], size=(wrong.sum(), N_OUTPUTS)) * rng.uniform(
        3.0, 10.0, size=(wrong.sum(), N_OUTPUTS))
    return X.astype(DTYPE), clean.astype(DTYPE), noisy.astype(DTYPE)


class MLP:
    """``pred = relu(x @ W1 + b1) @ W2 + b2``, with every buffer of a step preallocated."""

    def __init__(self, batch_size, rng):
        W1 = rng.standard_normal((N_FEATURES, N_HIDDEN)) * np.sqrt(2.0 / N_FEATURES)
        W2 = rng.standard_normal((N_HIDDEN, N_OUTPUTS)) * np.sqrt(1.0 / N_HIDDEN)
        self.params = [W1.astype(DTYPE), np.zeros(N_HIDDEN, DTYPE),
                       W2.astype(DTYPE), np.zeros(N_OUTPUTS, DTYPE)]
        self.grads = [np.empty_like(p) for p in self.params]
        self.momenta = [np.zeros_like(p) for p in self.params]
        self.hidden = np.empty((batch_size, N_HIDDEN), DTYPE)
        self.relu_slope = np.empty((batch_size, N_HIDDEN), DTYPE)
        self.grad_hidden = np.empty((batch_size, N_HIDDEN), DTYPE)
        self.pred = np.empty((batch_size, N_OUTPUTS), DTYPE)
        self.grad_pred = np.empty((batch_size, N_OUTPUTS), DTYPE)
        # The biases repeated on every row of a batch. `hidden += b1` would broadcast, and a
        # broadcasting ufunc makes NumPy 2 allocate an iteration buffer of up to 8192 elements
        # on every call; a copy into these rows (np.copyto allocates nothing) avoids it.
        self.hidden_bias = np.empty((batch_size, N_HIDDEN), DTYPE)
        self.pred_bias = np.empty((batch_size, N_OUTPUTS), DTYPE)
        # Column sums (the bias gradients) as a product with a row of ones: np.sum(axis=0,
        # out=...) makes NumPy 2.2 and older allocate such a buffer on every call as well.
        self.ones = np.ones(batch_size, DTYPE)

    def forward(self, x):
        W1, b1, W2, b2 = self.params
        np.matmul(x, W1, out=self.hidden)
        np.copyto(self.hidden_bias, b1)
        self.hidden += self.hidden_bias
        np.maximum(self.hidden, 0, out=self.hidden)
        np.matmul(self.hidden, W2, out=self.pred)
        np.copyto(self.pred_bias, b2)
        self.pred += self.pred_bias
        return self.pred

    def backward(self, x):
        """Parameter gradients from ``self.grad_pred`` (d loss / d pred)."""
        W1, _, W2, _ = self.params
        gW1, gb1, gW2, gb2 = self.grads
        np.matmul(self.hidden.T, self.grad_pred, out=gW2)
        np.matmul(self.ones, self.grad_pred, out=gb2)
        np.matmul(self.grad_pred, W2.T, out=self.grad_hidden)
        # ReLU's slope is 1 where the output is > 0, else 0: the sign of the (>= 0) output, as
        # float32, since multiplying by a bool mask would cast it in a buffer on every call.
        np.sign(self.hidden, out=self.relu_slope)
        self.grad_hidden *= self.relu_slope
        np.matmul(x.T, self.grad_hidden, out=gW1)
        np.matmul(self.ones, self.grad_hidden, out=gb1)

    def sgd_step(self, learning_rate, momentum=0.9):
        for param, grad, velocity in zip(self.params, self.grads, self.momenta):
            velocity *= momentum
            grad *= learning_rate
            velocity += grad
            param -= velocity


def train_step(model, X, Y, rows, x_batch, y_batch, learning_rate):
    """One minibatch step; returns the batch's mean smooth L1 loss. Allocates no arrays."""
    # mode="clip": with the default mode="raise", np.take stages `out` in a temporary copy.
    np.take(X, rows, axis=0, out=x_batch, mode="clip")
    np.take(Y, rows, axis=0, out=y_batch, mode="clip")
    pred = model.forward(x_batch)
    loss, _ = smoothl1.smooth_l1_loss_and_grad(pred, y_batch, beta=BETA,
                                               grad_out=model.grad_pred)
    model.backward(x_batch)
    model.sgd_step(learning_rate)
    return loss


def numpy_train_step(params, momenta, X, Y, rows, learning_rate, momentum=0.9):
    """``train_step`` written the usual NumPy way, every intermediate a new array: what the
    preallocated step is compared with. Updates ``params`` and ``momenta`` in place."""
    W1, b1, W2, b2 = params
    x, y = X[rows], Y[rows]
    hidden = np.maximum(x @ W1 + b1, 0)
    d = hidden @ W2 + b2 - y
    inside = np.abs(d) < BETA
    loss = np.where(inside, 0.5 * d * d / BETA, np.abs(d) - 0.5 * BETA).mean()
    grad_pred = np.where(inside, d / BETA, np.sign(d)) / d.size
    grad_hidden = (grad_pred @ W2.T) * (hidden > 0)
    grads = [x.T @ grad_hidden, grad_hidden.sum(axis=0), hidden.T @ grad_pred,
             grad_pred.sum(axis=0)]
    for param, grad, velocity in zip(params, grads, momenta):
        velocity *= momentum
        velocity += learning_rate * grad
        param -= velocity
    return loss


def peak_allocation(step, repeat=5):
    """Peak bytes allocated (tracemalloc) while `step()` runs `repeat` times, after a warm-up
    call (which may fill caches of NumPy's and BLAS's once)."""
    step()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    for _ in range(repeat):
        step()
    peak = tracemalloc.get_traced_memory()[1] - start
    tracemalloc.stop()
    return peak


def step_allocations(params, X, Y, batch_size, learning_rate, rng):
    """(peak bytes of one train_step, of one numpy_train_step, bytes of one hidden layer) at
    `batch_size`, both steps run from copies of `params` on the same random batches."""
    model = MLP(batch_size, rng)
    model.params = [p.copy() for p in params]
    x_batch = np.empty((batch_size, N_FEATURES), DTYPE)
    y_batch = np.empty((batch_size, N_OUTPUTS), DTYPE)
    rows = rng.integers(0, len(X), size=batch_size)
    preallocated = peak_allocation(
        lambda: train_step(model, X, Y, rows, x_batch, y_batch, learning_rate))
    numpy_params = [p.copy() for p in params]
    numpy_momenta = [np.zeros_like(p) for p in params]
    with_temporaries = peak_allocation(
        lambda: numpy_train_step(numpy_params, numpy_momenta, X, Y, rows, learning_rate))
    return preallocated, with_temporaries, model.hidden.nbytes


def evaluate(model, X, Y, batch_size):
    """Mean smooth L1 loss and mean absolute error on (X, Y), in whole batches."""
    total_loss = total_abs = 0.0
    n_batches = len(X) // batch_size
    for b in range(n_batches):
        rows = slice(b * batch_size, (b + 1) * batch_size)
        pred = model.forward(X[rows])
        total_loss += float(smoothl1.smooth_l1_loss(pred, Y[rows], beta=BETA))
        # smooth L1 with beta = 0 is L1: the mean absolute error, without a temporary.
        total_abs += float(smoothl1.smooth_l1_loss(pred, Y[rows], beta=0.0))
    return total_loss / n_batches, total_abs / n_batches


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true",
                        help="2,000 samples and 6 epochs (also SMOOTHL1_EXAMPLES_SMALL=1)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    small = args.small or os.environ.get("SMOOTHL1_EXAMPLES_SMALL", "") not in ("", "0")
    n_train, epochs = (2000, 6) if small else (20000, 12)
    batch_size = args.batch_size
    learning_rate = 0.05 * batch_size / 64  # the usual linear scaling with the batch size

    rng = np.random.default_rng(args.seed)
    n_val = batch_size * -(-1000 // batch_size)  # about 1000, whole batches
    X, clean, noisy = make_data(n_train + n_val, 0.05, rng)
    X_train, Y_train = X[:n_train], noisy[:n_train]
    X_val, Y_val = X[n_train:], clean[n_train:]  # validation against the clean truth

    model = MLP(batch_size, rng)
    x_batch = np.empty((batch_size, N_FEATURES), DTYPE)
    y_batch = np.empty((batch_size, N_OUTPUTS), DTYPE)
    order = np.arange(n_train)
    steps_per_epoch = n_train // batch_size  # the last partial batch of an epoch is dropped

    val_loss, val_mae = evaluate(model, X_val, Y_val, batch_size)
    print(f"{n_train} training samples ({N_FEATURES} features -> {N_OUTPUTS} box offsets, "
          f"5% gross label errors), MLP {N_FEATURES}-{N_HIDDEN}-{N_OUTPUTS}, "
          f"smooth L1 beta=1/9, batch {batch_size}\n")
    print(f"{'epoch':>5}  {'train loss':>10}  {'val loss':>9}  {'val MAE':>8}")
    print(f"{0:5d}  {'':>10}  {val_loss:9.4f}  {val_mae:8.4f}")
    for epoch in range(1, epochs + 1):
        rng.shuffle(order)  # in place
        train_loss = 0.0
        for step in range(steps_per_epoch):
            rows = order[step * batch_size:(step + 1) * batch_size]
            train_loss += float(train_step(model, X_train, Y_train, rows, x_batch, y_batch,
                                           learning_rate))
        val_loss, val_mae = evaluate(model, X_val, Y_val, batch_size)
        print(f"{epoch:5d}  {train_loss / steps_per_epoch:10.4f}  {val_loss:9.4f}  "
              f"{val_mae:8.4f}")

    # The claim, measured: a preallocated step allocates the same few bytes (small Python
    # objects) at any batch size, while the NumPy version allocates several hidden layers.
    print("\nmemory allocated by one training step (tracemalloc peak, bytes):")
    print(f"{'batch':>7}  {'hidden layer':>12}  {'this script':>11}  {'NumPy temporaries':>17}")
    for size in (batch_size, 8 * batch_size):
        preallocated, with_temporaries, hidden = step_allocations(
            model.params, X_train, Y_train, size, learning_rate, rng)
        print(f"{size:7d}  {hidden:12,d}  {preallocated:11,d}  {with_temporaries:17,d}")


if __name__ == "__main__":
    main()
