"""The delegation graph of a working repository: the signer's one walk of it.

Every question the signer asks about delegations is answered here, from one pre-order
walk from the top-level targets role (the order a TUF client searches, section 5.6.7):
which roles exist, who delegates each (and so lists its keys), which are hash bins, the
hardware-id bindings above each role, and, per target name, the device's search order,
the role a new target goes to and the delegations on its path.

Hash bins (succinct delegations, TAP 15) are leaves: firmtuf never delegates from a bin,
so the walk never loads one, and their names are only generated when a caller lists
them (a large repository has 65,536).

The search is bounded as the device bounds it (``verifier.Config().max_delegations``
delegated roles after ``targets``): a role past the bound is one devices never read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tuf.api.metadata import DelegatedRole, Delegations, SuccinctRoles, Targets

import verifier
from signer._errors import InvalidInputError

MAX_SEARCHED = verifier.Config().max_delegations
"""Delegated roles a device's search visits after ``targets`` (python-tuf's bound too)."""

PathEntry = tuple[str, "list[str] | None"]
"""(delegation name, its hardware-id binding): one delegation on a search path; a
succinct delegation is named ``<prefix>-*``."""


def hardware_binding(entry: DelegatedRole | SuccinctRoles) -> list[str] | None:
    """The hardware-id binding of a delegation entry (None: any hardware id)."""
    value = entry.unrecognized_fields.get(verifier.HARDWARE_BINDING_FIELD)
    return None if value is None else list(value)


@dataclass(frozen=True)
class DelegationBinding:
    """The hardware-id binding a delegated role is subject to (docs/adr/0008)."""

    own: list[str] | None
    """Its own delegation's binding (None: any hardware id)."""
    within: tuple[tuple[str, list[str]], ...] = ()
    """(delegation, binding) of each bound delegation above it: devices require all."""

    def describe(self) -> str:
        """``ships to ...`` text for status."""
        text = "any hardware id" if self.own is None else ", ".join(self.own)
        if self.within:
            limits = "; ".join(f"{name}: {', '.join(b)}" for name, b in self.within)
            text += f", within {limits}"
        return text


@dataclass(frozen=True)
class _Bins:
    delegator: str
    roles: SuccinctRoles
    binding: DelegationBinding


@dataclass
class _Walk:
    order: list[str | _Bins] = field(default_factory=list)
    """Loaded roles in pre-order; a delegator's bins right after it."""
    delegator: dict[str, str] = field(default_factory=dict)
    bindings: dict[str, DelegationBinding] = field(default_factory=dict)
    delegating: list[tuple[str, Delegations]] = field(default_factory=list)
    bins: list[_Bins] = field(default_factory=list)


class DelegationGraph:
    """The delegation tree below ``targets``, walked once and lazily.

    Args:
        load: returns the current metadata of a targets role (an empty role for a
            delegated one not written yet).

    A graph describes the repository at the moment it was made:
    ``FirmwareRepository.graph`` makes a new one after each change.
    """

    def __init__(self, load: Callable[[str], Targets]) -> None:
        self._load = load
        self._walk: _Walk | None = None
        self._searches: dict[str, list[tuple[str, tuple[PathEntry, ...]]]] = {}

    def _walked(self) -> _Walk:
        if self._walk is not None:
            return self._walk
        walk = _Walk()
        seen: set[str] = set()
        stack: list[tuple[str, tuple[tuple[str, list[str]], ...]]] = [(Targets.type, ())]
        while stack:
            role, above = stack.pop()
            if role in seen:
                continue
            seen.add(role)
            walk.order.append(role)
            delegations = self._load(role).delegations
            if delegations is None:
                continue
            walk.delegating.append((role, delegations))
            if delegations.succinct_roles is not None:
                succinct = delegations.succinct_roles
                bins = _Bins(role, succinct, DelegationBinding(hardware_binding(succinct), above))
                walk.order.append(bins)
                walk.bins.append(bins)
                continue
            children = []
            for name, entry in (delegations.roles or {}).items():
                own = hardware_binding(entry)
                walk.delegator.setdefault(name, role)
                walk.bindings.setdefault(name, DelegationBinding(own, above))
                children.append((name, above if own is None else (*above, (name, own))))
            stack.extend(reversed(children))
        self._walk = walk
        return walk

    # -- the roles -----------------------------------------------------------------------
    def roles(self) -> list[str]:
        """``targets`` then every delegated role, pre-order (bins after their delegator)."""
        names: dict[str, None] = {}
        for item in self._walked().order:
            if isinstance(item, str):
                names.setdefault(item)
            else:
                names.update(dict.fromkeys(item.roles.get_roles()))
        return list(names)

    def bins(self) -> set[str]:
        """Every hash bin's name."""
        return {name for item in self._walked().bins for name in item.roles.get_roles()}

    def is_bin(self, role: str) -> bool:
        """True when ``role`` is a hash bin of some succinct delegation."""
        return self._bins_of(role) is not None

    def _bins_of(self, role: str) -> _Bins | None:
        return next((b for b in self._walked().bins if b.roles.is_delegated_role(role)), None)

    def knows(self, role: str) -> bool:
        """True for ``targets`` and every delegated role (bins included)."""
        return role in self._walked().delegator or role == Targets.type or self.is_bin(role)

    def delegator(self, role: str) -> str | None:
        """The role whose metadata delegates ``role`` (and lists its keys), or None."""
        walk = self._walked()
        if role in walk.delegator:
            return walk.delegator[role]
        bins = self._bins_of(role)
        return None if bins is None else bins.delegator

    def delegating(self) -> Iterator[tuple[str, Delegations]]:
        """(role, its delegations) of every role that delegates, pre-order."""
        return iter(self._walked().delegating)

    def bindings(self) -> dict[str, DelegationBinding]:
        """Every delegated role -> the hardware-id bindings it is subject to (from its
        first delegation in search order)."""
        walk = self._walked()
        result = dict(walk.bindings)
        for bins in walk.bins:
            for name in bins.roles.get_roles():
                result.setdefault(name, bins.binding)
        return result

    # -- one target name -----------------------------------------------------------------
    def _search(self, name: str) -> list[tuple[str, tuple[PathEntry, ...]]]:
        """(role, delegations from targets to it) in the order a device searches for
        ``name``, whether or not a role lists it, up to the device's bound."""
        if name in self._searches:
            return self._searches[name]
        found: list[tuple[str, tuple[PathEntry, ...]]] = []
        seen: set[str] = set()
        stack: list[tuple[str, tuple[PathEntry, ...]]] = [(Targets.type, ())]
        while stack and len(found) <= MAX_SEARCHED:
            role, path = stack.pop()
            if role in seen:
                continue
            seen.add(role)
            found.append((role, path))
            delegations = self._load(role).delegations
            if delegations is None:
                continue
            children = []
            for child, terminating in delegations.get_roles_for_target(name):
                children.append((child, (*path, _entry(delegations, child))))
                if terminating:
                    # A terminating match ends the search below and after this role.
                    stack.clear()
                    break
            stack.extend(reversed(children))
        self._searches[name] = found
        return found

    def search(self, name: str) -> list[str]:
        """The roles a device consults for target ``name``, in order (TUF delegation
        search, bounded as the device bounds it). Loads no bin but the one of ``name``."""
        return [role for role, _ in self._search(name)]

    def path(self, name: str, role: str) -> list[PathEntry]:
        """The delegations between ``targets`` and ``role`` on the search for ``name``
        (empty for ``targets`` or a role the search does not reach)."""
        return next((list(path) for r, path in self._search(name) if r == role), [])

    def route(self, name: str, role: str | None = None) -> str:
        """The targets role a new target ``name`` goes to.

        Default: the deepest role on the first branch of the device's search for
        ``name`` (targets itself when no delegation matches). With ``role``: that role,
        which must be on the search, so a device finds the target there.

        Raises:
            InvalidInputError: ``role`` is unknown or not on the search for ``name``, or
                the default role is deeper than devices search.
        """
        if role is not None:
            if role in self.search(name):
                return role
            if not self.knows(role):
                raise InvalidInputError(f"unknown role {role!r}")
            raise InvalidInputError(
                f"role {role!r} is not delegated target {name!r} (its paths do not match, "
                "an earlier terminating delegation takes it, or devices stop searching "
                f"after {MAX_SEARCHED} delegated roles before reaching it)"
            )
        chain = [Targets.type]
        while True:
            delegations = self._load(chain[-1]).delegations
            if delegations is None:
                break
            match = next(iter(delegations.get_roles_for_target(name)), None)
            if match is None or match[0] in chain:
                break
            chain.append(match[0])
        if len(chain) > MAX_SEARCHED + 1:
            raise InvalidInputError(
                f"target {name!r} would go to role {chain[-1]!r}, {len(chain) - 1} "
                f"delegations deep, but devices search at most {MAX_SEARCHED} delegated "
                "roles: they would never find it"
            )
        return chain[-1]

    def holders(self, name: str) -> list[str]:
        """Roles that may list target ``name``: every role but the bins, and of each
        succinct delegation the one bin ``name`` hashes to (no other bin is read)."""
        roles = [item for item in self._walked().order if isinstance(item, str)]
        for bins in self._walked().bins:
            role = bins.roles.get_role_for_target(name)
            if role not in roles:
                roles.append(role)
        return roles


def _entry(delegations: Delegations, child: str) -> PathEntry:
    if delegations.succinct_roles is not None:
        succinct = delegations.succinct_roles
        return f"{succinct.name_prefix}-*", hardware_binding(succinct)
    return child, hardware_binding((delegations.roles or {})[child])
