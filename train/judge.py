"""A class judge for guided samples: a small CNN trained on the training images alone.

Guidance (Ho & Salimans 2021) trades diversity for samples that are more clearly of their class.
The L2 distance to a class's mean image cannot show that: the mean is a blur of many items, and
guided items are sharper and brighter than any blur. A classifier can: what it reports for a
sample of class c, p(c | x), is how clearly the sample is a c. Deterministic (seed 0); its
held-out accuracy is reported beside its verdicts, so a weak judge shows.
"""

import torch
from torch import nn

EPOCHS = 2
BATCH = 128
DESCRIPTION = f"train/judge.py: a 3-layer CNN trained on the training images (seed 0, {EPOCHS} epochs)"


def network(classes):
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.LazyLinear(128),
        nn.ReLU(),
        nn.Linear(128, classes),
    )


class ClassJudge:
    def __init__(self, train, labels, classes):
        """Trains on [N,1,H,W] images in [−1, 1] with integer `labels` in [0, classes)."""
        generator = torch.Generator().manual_seed(0)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            self.net = network(classes)
            self.net(train[:1])  # sizes the lazy layer before the optimiser sees its parameters
        optimiser = torch.optim.Adam(self.net.parameters(), 1e-3)
        self.net.train()
        for _ in range(EPOCHS):
            order = torch.randperm(len(train), generator=generator)
            for i in range(0, len(train), BATCH):
                batch = order[i : i + BATCH]
                loss = nn.functional.cross_entropy(self.net(train[batch]), labels[batch].long())
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        self.net.eval()

    @torch.no_grad()
    def log_probs(self, images):
        """[N,1,H,W] → [N, classes] log p(class | image), images clipped to [−1, 1] as the page shows them."""
        return torch.cat([self.net(part.clamp(-1, 1)).log_softmax(1) for part in images.split(1024)])

    def accuracy(self, images, labels):
        return (self.log_probs(images).argmax(1) == labels.long()).float().mean().item()

    def verdict(self, images, label):
        """How clearly `images` are of class `label`: the share the judge assigns to it, and the
        mean log p(label | x) (which still moves where that share is already 1)."""
        log_p = self.log_probs(images)
        return {"accuracy": (log_p.argmax(1) == label).float().mean().item(), "log_p": log_p[:, label].mean().item()}
