"""`marrow train` under torchrun: one process per GPU (or CPU process on gloo), kept in step by
DistributedDataParallel.

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; without them a run is one process, as before.
Each process reads the whole data set and takes its share of every epoch's images through a
`DistributedSampler`; rank 0 alone validates, prints and writes the run folder (checkpoints,
metrics, the model files), and every process resumes from rank 0's `last.pt`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run (rank 0 of 1 when not under torchrun)."""

    rank: int = 0
    world: int = 1
    local: int = 0

    @property
    def main(self) -> bool:
        """The process that validates, prints and writes."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def start(device: torch.device) -> Ranks:
    """Join the process group torchrun describes (nccl on CUDA, gloo on the CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    ranks = Ranks(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return ranks


def local_device(device: torch.device, ranks: Ranks) -> torch.device:
    """One GPU per process: cuda:LOCAL_RANK."""
    if device.type == "cuda" and ranks.active:
        torch.cuda.set_device(ranks.local)
        return torch.device("cuda", ranks.local)
    return device


def wrap(model: torch.nn.Module, ranks: Ranks, device: torch.device) -> torch.nn.Module:
    """The module the training steps call: DDP around the model when distributed."""
    if not ranks.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                   else None)


def epoch_order(count: int, epoch: int, seed: int, ranks: Ranks) -> torch.Tensor:
    """This process's training images of an epoch, shuffled the same way on every process."""
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(count), num_replicas=ranks.world, rank=ranks.rank,
                                 shuffle=True, seed=seed, drop_last=True)
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler), dtype=torch.long)


def barrier(ranks: Ranks) -> None:
    if ranks.active:
        dist.barrier()


def stop(ranks: Ranks) -> None:
    if ranks.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
