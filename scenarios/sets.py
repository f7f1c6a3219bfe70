"""Named scenario sets bundled with clinsim, and resolution of `SET or PATH` arguments."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from clinsim.scenarios.errors import ScenarioLoadError, UnknownScenarioSet
from clinsim.scenarios.loader import LoadReport, load_file
from clinsim.scenarios.model import Scenario

_AGENTCLINIC = (
    "AgentClinic (Schmidgall et al. 2024), from MedQA (Jin et al. 2021); "
    "see clinsim/scenarios/data/ATTRIBUTION.md"
)


@dataclass(frozen=True)
class ScenarioSet:
    name: str
    file: str
    description: str
    license: str
    attribution: str

    @property
    def path(self) -> Path:
        return Path(str(resources.files("clinsim.scenarios").joinpath("data", self.file)))


_SETS: dict[str, ScenarioSet] = {}


def register_set(scenario_set: ScenarioSet) -> ScenarioSet:
    """Make a bundled set loadable by name (`clinsim run NAME`)."""
    _SETS[scenario_set.name] = scenario_set
    return scenario_set


register_set(
    ScenarioSet(
        "demo",
        "demo.jsonl",
        "A few synthetic cases in clinsim's own format: the default run.",
        "MIT",
        "clinsim",
    )
)
register_set(
    ScenarioSet(
        "agentclinic-medqa",
        "agentclinic_medqa.jsonl",
        "AgentClinic-MedQA: 107 OSCE cases built from MedQA USMLE questions.",
        "MIT",
        _AGENTCLINIC,
    )
)
register_set(
    ScenarioSet(
        "agentclinic-medqa-ext",
        "agentclinic_medqa_extended.jsonl",
        "AgentClinic-MedQA-Extended: 214 OSCE cases (includes the 107 above).",
        "MIT",
        _AGENTCLINIC,
    )
)
register_set(
    ScenarioSet(
        "mimic-iv-demo",
        "mimic_iv_demo.jsonl",
        "MIMIC-IV demo admissions (OSCE shape, EHR-linked): diagnose with the EHR tools.",
        "ODbL-1.0",
        "MIMIC-IV Clinical Database Demo v2.2 (Johnson et al. 2023, PhysioNet, "
        "doi:10.13026/dp1f-ex47); see clinsim/environments/ehr/data/mimic-iv-demo",
    )
)
register_set(
    ScenarioSet(
        "mimic-iv-demo-notes",
        "mimic_iv_demo_notes.jsonl",
        "MIMIC-IV demo admissions told by synthetic discharge summaries and radiology reports "
        "(MIMIC-IV-Note format): the patient answers from the note.",
        "ODbL-1.0 (MIMIC-IV demo EHR data); MIT (synthetic notes)",
        "MIMIC-IV Clinical Database Demo v2.2 (Johnson et al. 2023, PhysioNet, "
        "doi:10.13026/dp1f-ex47); synthetic notes written for clinsim; see "
        "clinsim/scenarios/data/mimic-iv-demo-notes",
    )
)
register_set(
    ScenarioSet(
        "images",
        "images.jsonl",
        "Image-bearing cases: chest X-ray, dermatology, fundus, histopathology, DICOM CT/MR.",
        "CC BY 4.0 / CC BY 3.0 images (NIH ChestX-ray14 terms for two); synthetic case text",
        "Hannover Medical School, PAD-UFES-20, IDRiD, Kather et al. 2016, NIH ChestX-ray14; "
        "see clinsim/scenarios/data/images/ATTRIBUTION.md",
    )
)


def demo_notes_dir() -> Path:
    """The bundled synthetic MIMIC-IV-Note folder (`note/discharge.csv.gz`,
    `note/radiology.csv.gz`) for admissions of the MIMIC-IV demo."""
    return Path(str(resources.files("clinsim.scenarios").joinpath("data", "mimic-iv-demo-notes")))


def bundled_sets() -> list[ScenarioSet]:
    return [s for s in _SETS.values() if s.path.is_file()]


def get_set(name: str) -> ScenarioSet:
    try:
        return _SETS[name]
    except KeyError:
        known = ", ".join(sorted(_SETS))
        raise UnknownScenarioSet(f"no scenario set {name!r} (bundled sets: {known})") from None


def load_report(source: str, image_dir: str | Path | None = None) -> LoadReport:
    """Load a bundled set by name or a scenario file by path. With `image_dir`, every image
    must resolve to a local file (see clinsim.scenarios.images)."""
    if source in _SETS:
        s = _SETS[source]
        return load_file(
            s.path,
            set_name=s.name,
            source=s.name,
            license=s.license,
            attribution=s.attribution,
            image_dir=image_dir,
        )
    path = Path(source)
    if path.exists():
        return load_file(path, image_dir=image_dir)
    known = ", ".join(sorted(_SETS))
    raise UnknownScenarioSet(f"{source!r} is neither a bundled set ({known}) nor a file")


def load_scenarios(sources: list[str], image_dir: str | Path | None = None) -> list[Scenario]:
    """Load several sets or files; raises ScenarioLoadError listing every bad record."""
    scenarios: list[Scenario] = []
    errors = []
    for source in sources:
        report = load_report(source, image_dir)
        scenarios.extend(report.scenarios)
        errors.extend(report.errors)
    if errors:
        raise ScenarioLoadError(errors)
    return scenarios


def find_scenario(scenario_id: str) -> Scenario:
    """Find a bundled scenario by id ('agentclinic-medqa/0001')."""
    set_name = scenario_id.rsplit("/", 1)[0]
    if set_name not in _SETS:
        raise UnknownScenarioSet(f"no bundled set for scenario id {scenario_id!r}")
    for scenario in load_report(set_name).scenarios:
        if scenario.id == scenario_id:
            return scenario
    raise UnknownScenarioSet(f"no scenario {scenario_id!r} in set {set_name!r}")
