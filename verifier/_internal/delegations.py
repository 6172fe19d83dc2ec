"""The one delegation walk (TUF 1.0.x section 5.6.7): target search and role enumeration.

Both take ``load(role, delegator) -> Targets``, which returns the role's verified
metadata (the Updater's, fetching as needed), so the rules live here once:

- :func:`search`: pre-order depth-first search for one target path, following only
  the roles trusted for it, stopping at a terminating delegation, visiting at most
  ``max_roles + 1`` roles (the top-level targets role and ``max_roles`` delegated ones,
  as python-tuf's ``max_delegations``); returns the target and the delegations on its
  path.
- :func:`walk`: every reachable role once, pre-order, lazily: delegated role names (a
  succinct hash-bin delegation names ``2**bit_length`` bins) are generated one at a time
  as the walk reaches them, so the ``max_roles`` cap applies before anything is listed.
"""

from __future__ import annotations

from verifier._errors import RepositoryError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs import time on devices; annotations only
    from collections.abc import Callable, Iterator

    from verifier._internal.metadata import Delegation, TargetFile, Targets

    Loader = Callable[[str, str], Targets]
    Path = tuple[Delegation, ...]

TOP = ("targets", "root")
"""(role, delegator) the walk starts from."""


class TooManyRolesError(RepositoryError):
    """The delegation graph reaches more roles than the configured limit."""


def search(load: Loader, target_path: str, max_roles: int) -> tuple[TargetFile, Path] | None:
    """The first trusted entry for ``target_path`` and the delegations leading to it.

    Returns:
        ``(target, path)`` where ``path`` holds, from the top, the delegation entry
        (``DelegatedRole`` or the succinct ``SuccinctRoles``) of each delegated role
        between the top-level targets role and the role listing the target (empty for
        a top-level target); None when no role trusted for it lists it (or the search
        gave up after ``max_roles`` delegated roles).
    """
    to_visit: list[tuple[str, str, Path]] = [(*TOP, ())]
    visited: set[str] = set()
    while to_visit and len(visited) <= max_roles:
        role, delegator, chain = to_visit.pop()
        if role in visited:
            continue
        md = load(role, delegator)
        target = md.get(target_path)
        if target is not None:
            return target, chain
        visited.add(role)
        if md.delegations is None:
            continue
        children: list[tuple[str, str, Path]] = []
        for child, entry, terminating in md.delegations.entries_for_target(target_path):
            children.append((child, role, (*chain, entry)))
            if terminating:
                to_visit.clear()
                break
        to_visit.extend(reversed(children))
    return None


def walk(load: Loader, max_roles: int) -> Iterator[tuple[str, str, Targets]]:
    """Every role reachable from the top-level targets role, once each, in pre-order.

    Yields:
        ``(role, delegator, metadata)``.

    Raises:
        TooManyRolesError: more than ``max_roles`` roles would be loaded (raised before
            the next one is fetched or its name listed beyond the cap).
    """
    stack: list[Iterator[tuple[str, str]]] = [iter((TOP,))]
    visited: set[str] = set()
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            continue
        role, delegator = step
        if role in visited:
            continue
        if len(visited) >= max_roles:
            raise TooManyRolesError(f"more than {max_roles} roles to enumerate")
        visited.add(role)
        md = load(role, delegator)
        yield role, delegator, md
        if md.delegations is not None:
            stack.append(_children(role, md.delegations.all_role_names()))


def _children(role: str, names: Iterator[str]) -> Iterator[tuple[str, str]]:
    for name in names:
        yield name, role
