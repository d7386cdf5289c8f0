"""Arrays kept in process memory for a short while, up to a byte budget.

Used between ``calibrate`` and predicting the validation split (for a
threshold protocol): the normal validation images' embeddings and searches
are kept so that they are not computed twice even when the disk cache is
off. Closed (emptied) once testing starts. Past the budget nothing more is
kept; nothing is evicted.
"""

from __future__ import annotations

import numpy as np


class Memo:
    """(namespace, key) -> array, while open and within ``budget`` bytes."""

    def __init__(self) -> None:
        self.budget = 0
        self.nbytes = 0
        self._items: dict[tuple[str, str], np.ndarray] = {}

    @property
    def is_open(self) -> bool:
        return self.budget > 0

    def open(self, budget: int) -> None:
        """Start keeping arrays (at most ``budget`` bytes); what was kept before is dropped."""
        self.close()
        self.budget = budget

    def close(self) -> None:
        """Stop keeping arrays and drop the ones kept."""
        self.budget, self.nbytes = 0, 0
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, namespace: str, key: str) -> np.ndarray | None:
        return self._items.get((namespace, key))

    def put(self, namespace: str, key: str, array: np.ndarray) -> None:
        if not self.is_open or (namespace, key) in self._items or self.nbytes + array.nbytes > self.budget:
            return
        self._items[(namespace, key)] = array
        self.nbytes += array.nbytes
