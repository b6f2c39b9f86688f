"""A run's stages as a left-to-right graph: data → operator → data, nested stages folded.

Pure layout, no Streamlit and no drawing library: the view draws the ``Layout`` (``graphs.stage_chart``)
and these functions are tested on plain frames.

Invariants the drawing relies on:

- Coordinates are pixels at the default zoom (``x`` grows to the right, ``y`` downwards), and
  each column is as wide as its widest label at ``FONT_PX``, so labels never overlap at 1:1.
- Columns follow the data: a stage sits right of every dataframe it reads, and a dataframe
  right of the stage that wrote it. Actions come in the order they ran (``seq``), which is
  already an order in which producers precede consumers, so there is no cycle to break; a
  dataframe read before it is written (a fingerprint seen twice) keeps its first column.
- Folding: an action with tracked stages (a pipeline's steps, a search's refit) is one node
  until it is unfolded. An unfolded action is no node of its own but a ``Group`` framing its
  stages; its dataframes that none of its stages read or wrote (a column transformer's
  concatenated output, a search's ``y``) are joined to its first and last stages by dashed
  ``bridged`` edges, so the flow stays connected.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

FONT_PX = 13
CHAR_PX = 7.4  # an average glyph of the chart's sans-serif font at FONT_PX
LINE_PX = 17
PAD_PX = 10
COLUMN_GAP_PX = 46
ROW_GAP_PX = 22
GROUP_PAD_PX = 12
GROUP_HEADER_PX = 22
MAX_LABEL_CHARS = 30


@dataclass(frozen=True)
class Node:
    """A stage (``kind == "stage"``, ``key`` its action id) or a dataframe (``kind == "data"``)."""

    id: str
    kind: str
    key: str
    lines: tuple[str, ...]
    column: int
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0
    folded: int = 0  # how many tracked stages this node hides
    nested: bool = False

    @property
    def label(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    bridged: bool = False  # drawn through an unfolded stage's frame, not read or written by a stage in it


@dataclass(frozen=True)
class Group:
    """An unfolded action: a frame around its stages, its label on top."""

    key: str
    label: str
    x: float
    y: float
    x2: float
    y2: float
    depth: int


@dataclass(frozen=True)
class Layout:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    groups: tuple[Group, ...] = ()
    width: float = 0.0
    height: float = 0.0
    numbers: Mapping[str, int] = field(default_factory=dict)  # action id -> its stage number (1-based, seq order)

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def stages(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "stage"]


def _short_id(value: str) -> str:
    return value[-6:] if value else "?"


def _clip(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def duration_text(ms: Any) -> str:
    try:
        ms = float(ms)
    except (TypeError, ValueError):
        return "—"
    return f"{ms / 1000:,.2f} s" if ms >= 1000 else f"{ms:,.1f} ms"


def children(actions: Any) -> dict[str, list[str]]:
    """Each action's tracked stages (in the order they ran), for parents present in ``actions``."""
    present = set(actions["action_id"])
    out: dict[str, list[str]] = {}
    for a in actions.itertuples():
        if a.parent_action_id and a.parent_action_id in present and a.parent_action_id != a.action_id:
            out.setdefault(a.parent_action_id, []).append(a.action_id)
    return out


def _parents(actions: Any) -> dict[str, str]:
    present = set(actions["action_id"])
    return {a.action_id: a.parent_action_id for a in actions.itertuples()
            if a.parent_action_id and a.parent_action_id in present and a.parent_action_id != a.action_id}


def _ancestors(action_id: str, parents: Mapping[str, str]) -> list[str]:
    out, seen = [], {action_id}
    while action_id in parents and parents[action_id] not in seen:
        action_id = parents[action_id]
        seen.add(action_id)
        out.append(action_id)
    return out


def foldable(actions: Any) -> list[str]:
    """The actions that can be unfolded (those with tracked stages), in the order they ran."""
    kids = children(actions)
    return [a for a in actions["action_id"] if a in kids]


def stage_title(action: Any, number: int) -> str:
    return f"{number}. {action.action} {action.operator_class}"


def fold_options(actions: Any) -> dict[str, str]:
    """Foldable action id -> what the unfold picker shows: ``6. fit Pipeline (+4 stages)``, as on its node."""
    kids = children(actions)
    numbers = {a: i for i, a in enumerate(actions["action_id"], 1)}
    by_id = {a.action_id: a for a in actions.itertuples()}
    return {a: f"{stage_title(by_id[a], numbers[a])} (+{stages_text(_descendants(a, kids))})"
            for a in foldable(actions)}


def stages_text(count: int) -> str:
    return f"{count} stage{'s' * (count != 1)}"


def _descendants(action_id: str, kids: Mapping[str, list[str]]) -> int:
    return sum(1 + _descendants(k, kids) for k in kids.get(action_id, []))


def layout(actions: Any, frames: Any, unfolded: Iterable[str] = ()) -> Layout:
    """Place the stages and dataframes of ``actions`` left to right, folding all but ``unfolded``."""
    unfolded = set(unfolded)
    kids, parents = children(actions), _parents(actions)
    numbers = {a: i for i, a in enumerate(actions["action_id"], 1)}
    by_id = {a.action_id: a for a in actions.itertuples()}
    shape = {r.dataframe_id: (r.n_rows, r.n_columns) for r in frames.itertuples()} if len(frames) else {}

    def shown(action_id: str) -> bool:
        return all(p in unfolded for p in _ancestors(action_id, parents))

    opened = [a for a in actions["action_id"] if a in kids and a in unfolded and shown(a)]
    leaves = [a for a in actions["action_id"] if shown(a) and a not in opened]

    edges: list[Edge] = []
    for a in leaves:
        act = by_id[a]
        edges += [Edge(f"d:{d}", f"a:{a}") for d in act.input_dataframe_ids]
        edges += [Edge(f"a:{a}", f"d:{d}") for d in act.output_dataframe_ids]
    edges += _bridges(opened, leaves, by_id, parents)
    edges = list(dict.fromkeys(edges))

    nodes: dict[str, Node] = {}
    for a in leaves:
        act = by_id[a]
        hidden = _descendants(a, kids)
        lines = [_clip(f"{numbers[a]}. {act.action}"), _clip(str(act.operator_class)), duration_text(act.duration_ms)]
        if hidden:
            lines[-1] += f" · +{stages_text(hidden)}"
        nodes[f"a:{a}"] = Node(f"a:{a}", "stage", a, tuple(lines), 0, folded=hidden, nested=a in parents)
    for e in edges:
        for end in (e.source, e.target):
            if end.startswith("d:") and end not in nodes:
                d = end[2:]
                rows, cols = shape.get(d, (None, None))
                lines = [f"data …{_short_id(d)}"]
                if rows is not None:
                    lines.append(f"{int(rows):,} × {int(cols)}")
                nodes[end] = Node(end, "data", d, tuple(lines), 0)

    root = {a: ([a] + _ancestors(a, parents))[-1] for a in leaves}
    room: dict[str, float] = {}  # above an unfolded band: its frames' titles and padding, nested ones inside
    for a in leaves:
        levels = sum(1 for p in _ancestors(a, parents) if p in opened)
        if levels:
            room[root[a]] = max(room.get(root[a], 0.0), (GROUP_HEADER_PX + GROUP_PAD_PX) * levels)
    placed = _place(nodes, edges, leaves, root, room)
    groups = _groups(opened, placed, by_id, numbers, parents)
    width = max([n.x + n.width for n in placed.values()] + [g.x2 for g in groups] + [0.0])
    height = max([n.y + n.height for n in placed.values()] + [g.y2 for g in groups] + [0.0])
    return Layout(tuple(placed.values()), tuple(edges), tuple(groups), width, height, numbers)


def _bridges(opened: list[str], leaves: list[str], by_id: Mapping[str, Any], parents: Mapping[str, str]) -> list[Edge]:
    """Dashed edges for an unfolded action's dataframes that none of its shown stages read or wrote."""
    out: list[Edge] = []
    for g in opened:
        inside = [a for a in leaves if g in _ancestors(a, parents)]
        if not inside:
            continue
        read = {d for a in inside for d in by_id[a].input_dataframe_ids}
        written = {d for a in inside for d in by_id[a].output_dataframe_ids}
        entries = [a for a in inside if not set(by_id[a].input_dataframe_ids) & written] or inside[:1]
        exits = [a for a in inside if not set(by_id[a].output_dataframe_ids) & read] or inside[-1:]
        out += [Edge(f"d:{d}", f"a:{a}", True) for d in by_id[g].input_dataframe_ids if d not in read for a in entries]
        out += [Edge(f"a:{a}", f"d:{d}", True) for d in by_id[g].output_dataframe_ids if d not in written
                for a in exits]
    return out


def _place(nodes: dict[str, Node], edges: list[Edge], order: list[str], root: Mapping[str, str],
           room: Mapping[str, float]) -> dict[str, Node]:
    """Columns from the data flow; rows in bands, one per top-level action; then pixels.

    A band holds a top-level action's shown stages and the dataframes they touch first, so an
    unfolded action's frame encloses its own band and no other stage. Within a band a node sits
    level with the mean of what it reads (left to right), a source level with what reads it.
    """
    from dataclasses import replace

    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for e in edges:
        preds[e.target].append(e.source)
        succs[e.source].append(e.target)

    column: dict[str, int] = {}
    for a in order:  # the order the actions ran in: producers come before their consumers
        op = f"a:{a}"
        inputs = [p for p in preds[op] if p in column]
        column[op] = max((column[p] + 1 for p in inputs), default=1)
        for out in succs[op]:
            column.setdefault(out, column[op] + 1)
    for node in nodes:  # sources: just left of their first reader
        if node not in column:
            column[node] = max(0, min((column[s] for s in succs[node] if s in column), default=1) - 1)

    first = {f"a:{a}": i for i, a in enumerate(order)}
    band = {f"a:{a}": root[a] for a in order}
    for a in order:  # a dataframe ranks, and bands, with its first stage
        for end in preds[f"a:{a}"] + succs[f"a:{a}"]:
            if end not in first:
                first[end], band[end] = first[f"a:{a}"], root[a]

    sized = {}
    for node_id, node in nodes.items():
        width = max(len(line) for line in node.lines) * CHAR_PX + 2 * PAD_PX
        sized[node_id] = replace(node, column=column[node_id], width=width, height=len(node.lines) * LINE_PX + PAD_PX)
    columns = sorted(set(column.values()))
    step = max((n.height for n in sized.values()), default=0) + ROW_GAP_PX
    widths = {c: max(n.width for n in sized.values() if n.column == c) for c in columns}
    lefts, x = {}, 0.0
    for c in columns:
        lefts[c] = x
        x += widths[c] + COLUMN_GAP_PX

    y: dict[str, float] = {}
    bottom = 0.0
    for b in dict.fromkeys(band[n] for n in sorted(sized, key=first.get)):
        members = {n for n in sized if band[n] == b}
        rows = _rows(members, preds, succs, column, first, step)
        top = bottom + room.get(b, 0.0)
        y.update({n: top + r for n, r in rows.items()})
        bottom = max(y[n] for n in members) + step + room.get(b, 0.0) / 2
    return {n: replace(node, x=lefts[node.column] + (widths[node.column] - node.width) / 2, y=y[n])
            for n, node in sized.items()}


def _rows(members: set[str], preds: Mapping[str, list[str]], succs: Mapping[str, list[str]],
          column: Mapping[str, int], first: Mapping[str, int], step: float) -> dict[str, float]:
    """Rows (pixels from the band's top) for one band's nodes, using only the edges inside it."""
    row: dict[str, float] = {}

    def settle(group: list[str], wanted: Mapping[str, float]) -> None:
        floor = -step
        for n in sorted(group, key=lambda n: (wanted[n], first[n])):
            row[n] = max(wanted[n], floor + step)
            floor = row[n]

    columns = sorted({column[n] for n in members})
    for c in columns:  # left to right: each node level with the mean of what it reads
        group = sorted((n for n in members if column[n] == c), key=first.get)
        wanted = {}
        for rank, n in enumerate(group):
            placed = [row[p] for p in preds[n] if p in row]
            wanted[n] = sum(placed) / len(placed) if placed else rank * step
        settle(group, wanted)
    for c in reversed(columns):  # right to left: sources level with what reads them
        group = [n for n in members if column[n] == c]
        wanted = {n: row[n] for n in group}
        for n in group:
            readers = [row[s] for s in succs[n] if s in members]
            if not any(p in members for p in preds[n]) and readers:
                wanted[n] = sum(readers) / len(readers)
        settle(group, wanted)
    top = min(row.values(), default=0.0)
    return {n: r - top for n, r in row.items()}


def _groups(opened: list[str], placed: Mapping[str, Node], by_id: Mapping[str, Any], numbers: Mapping[str, int],
            parents: Mapping[str, str]) -> list[Group]:
    """A frame around each unfolded action's shown stages; outer frames are drawn around inner ones."""
    out = []
    for g in opened:
        inside = [n for n in placed.values() if n.kind == "stage" and g in _ancestors(n.key, parents)]
        if not inside:
            continue
        depth = len(_ancestors(g, parents))
        nesting = max(len(_ancestors(n.key, parents)) for n in inside) - depth - 1  # unfolded levels inside
        pad = GROUP_PAD_PX * (1 + nesting)
        head = GROUP_HEADER_PX * (1 + nesting)
        out.append(Group(g, _clip(stage_title(by_id[g], numbers[g]), 40),
                         min(n.x for n in inside) - pad, min(n.y for n in inside) - pad - head,
                         max(n.x + n.width for n in inside) + pad, max(n.y + n.height for n in inside) + pad, depth))
    return out


def picked(selection: Any, param: str = "stage") -> str | None:
    """The action id a chart selection names (Streamlit's ``{"stage": [{"key": …}]}``), or None."""
    try:
        points = (selection or {}).get(param) or []
    except AttributeError:
        return None
    for point in points if isinstance(points, list) else [points]:
        if isinstance(point, Mapping) and point.get("key"):
            return str(point["key"])
    return None


def stage_details(actions: Any, frames: Any, action_id: str) -> dict[str, Any] | None:
    """What the panel under the graph shows for one stage: title, duration, params, columns, shapes."""
    rows = actions[actions["action_id"] == action_id]
    if rows.empty:
        return None
    a = next(rows.itertuples())
    number = list(actions["action_id"]).index(action_id) + 1
    shape = {r.dataframe_id: (r.n_rows, r.n_columns) for r in frames.itertuples()} if len(frames) else {}

    def shapes(ids: Iterable[str]) -> str:
        return ", ".join(f"{int(shape[d][0]):,} × {int(shape[d][1])}" for d in ids if d in shape)

    kids = children(actions)
    return {"title": stage_title(a, number), "operator": str(a.operator_class), "action": str(a.action),
            "duration": duration_text(a.duration_ms), "params": dict(a.params),
            "input_columns": list(a.input_columns), "output_columns": list(a.output_columns),
            "input_shapes": shapes(a.input_dataframe_ids), "output_shapes": shapes(a.output_dataframe_ids),
            "stages": _descendants(action_id, kids), "nested": bool(a.parent_action_id)}
