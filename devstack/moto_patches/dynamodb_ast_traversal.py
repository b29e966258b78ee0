"""Fix ``dynamodb_ast_traversal``: UpdateExpression validation without per-node ABC dispatch.

Why (measured on moto 5.2.5, a 30-item matcher transaction, cProfile): every UpdateItem runs
eleven AST processors (``UpdateExpressionValidator``), each a full depth-first traversal. For
every node of every traversal ``DepthFirstTraverser`` rebuilds the processor's map, builds a
tuple of its keys and calls ``isinstance`` against ``Node``, an ABCMeta class (a Python-level
``__instancecheck__``): ~500 node visits and ~2,000 isinstance calls per update, about a third of
a transaction's server time. Before that, ``Validator.__init__`` deep-copies the AST through the
generic pickle protocol (``copy._reconstruct`` per node).

Fix (same traversal order, same processors, same results):

* ``traverse_node_recursively`` decides "is a Node" and "which processor entry handles it" once
  per (processor class, node class) and remembers it. Valid because every ``_processing_map`` in
  moto 5.2.5 returns a literal dict whose *keys* are fixed classes (only the bound methods
  differ per instance), the first matching key wins exactly as in ``process``, and the AST node
  classes have no virtual (``register``-ed) subclasses, so ``issubclass`` on the type equals
  ``isinstance`` on the node.
* ``Node.__deepcopy__`` copies a node's ``__dict__`` directly (what the default protocol does for
  these plain classes, without ``__reduce_ex__``/``_reconstruct``), returns immutable values as
  they are (as deepcopy does) and copies child lists element by element; the shared memo keeps the
  parent/child links of the copy consistent, as before.
"""

from __future__ import annotations

import copy
import importlib
from typing import Any

from ._util import replace

NAME = "dynamodb_ast_traversal"

# (processor class, node class) -> index of the first matching processing-map key, or -1
_dispatch: dict[tuple[type, type], int] = {}
_is_node: dict[type, bool] = {}
# Immutable values deepcopy returns as they are.
_ATOMIC = frozenset({str, int, float, bool, type(None), bytes})


def apply() -> None:
    # moto's parsing modules are "# type: ignore" files: reach them untyped.
    ast_nodes = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
    DepthFirstTraverser, Node = ast_nodes.DepthFirstTraverser, ast_nodes.Node

    def handler_index(self: Any, node_type: type) -> int:
        key = (type(self), node_type)
        index = _dispatch.get(key)
        if index is None:
            index = next(
                (i for i, cls in enumerate(self._processing_map()) if issubclass(node_type, cls)), -1
            )
            _dispatch[key] = index
        return index

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        node_type = type(node)
        is_node = _is_node.get(node_type)
        if is_node is None:
            is_node = _is_node[node_type] = issubclass(node_type, Node)
        if is_node:
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    self.traverse_node_recursively(child_node, i)
            index = handler_index(self, node_type)
            if index >= 0:
                processor = list(self._processing_map().values())[index]
                node = processor(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    def node_deepcopy(self: Any, memo: dict[int, Any]) -> Any:
        result = object.__new__(type(self))
        memo[id(self)] = result
        state = {}
        for name, value in self.__dict__.items():
            kind = type(value)
            if kind in _ATOMIC:
                state[name] = value
            elif kind is list:  # children: copied element by element, shared memo
                state[name] = [v if type(v) in _ATOMIC else copy.deepcopy(v, memo) for v in value]
            else:
                state[name] = copy.deepcopy(value, memo)
        result.__dict__.update(state)
        return result

    replace(DepthFirstTraverser, "traverse_node_recursively", traverse_node_recursively)
    replace(Node, "__deepcopy__", node_deepcopy)
