"""Every prompt of the model-played roles as a Jinja2 template file: the bundled ones
(`bundled/`, package data) and the ones a user supplies in their place (`--prompt ROLE.PART=FILE`).

- `parts`: each role's parts, the variables each receives, what a replacement must keep;
- `templates`: reading, checking and rendering one template (Jinja, imported on first use);
- `library`: a role's set of templates, bundled or supplied;
- `reference`: the parts and their variables as Markdown (docs/prompts.md).
"""

from clinsim.agents.prompts.library import (
    PromptedConfig,
    RolePrompts,
    bundled_prompts,
    role_prompts,
)
from clinsim.agents.prompts.parts import PARTS, ROLES, Part, UnknownPart, part_key
from clinsim.agents.prompts.templates import PromptError, Template, check_template, template_file

__all__ = [
    "PARTS",
    "ROLES",
    "Part",
    "PromptError",
    "PromptedConfig",
    "RolePrompts",
    "Template",
    "UnknownPart",
    "bundled_prompts",
    "check_template",
    "part_key",
    "role_prompts",
    "template_file",
]
