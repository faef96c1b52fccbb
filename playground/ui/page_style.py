"""How the page looks: its compact layout, presenter mode's large type, and what each
name in ``hide=`` hides."""

from __future__ import annotations

# what each name in ``hide=`` hides (Config.HIDEABLE): widgets by their keys, the live
# view's parts by their classes (the live view shares the page's DOM)
HIDE_SELECTORS = {
    "learning_rate": ".st-key-cfg_learning_rate",
    "activation": ".st-key-cfg_activation, .st-key-activation_none, .pg-act",
    "regularization": ".st-key-cfg_regularization, .st-key-cfg_reg_rate",
    "optimizer": ".st-key-cfg_optimizer",
    "loss": ".st-key-cfg_loss, .st-key-loss_regression",
    "speed": ".st-key-cfg_speed",
    "problem": ".st-key-task",
    "data": ".st-key-data_column",
    "noise": ".st-key-cfg_noise",
    "batch": ".st-key-cfg_batch_size",
    "features": ".pg-input.off",
    "layers": ".pg-net-head .pg-btn, .pg-layer-ctl .pg-btn",
    "transport": ".pg-transport",
    "toggles": ".pg-toggles",
    "numbers": ".pg-numbers",
    "curves": ".pg-curves",
    "histograms": ".pg-hist-w, .pg-hist-g",
    "norms": ".pg-norms",
    "confusion": ".pg-confusion",
    "settings": ".st-key-settings",
    "share": ".st-key-share",
    "replay": ".st-key-replay",
    "own_data": ".st-key-own_data, .pg-draw",
    "compare": ".st-key-compare",
    "slow_motion": ".st-key-slow_motion",
    "lessons": ".st-key-lessons, .st-key-intro",
    "callouts": ".pg-callout",
}
# a projector at 1024x768: every label at least 16 px, the key plots bigger
PRESENTER_CSS = """<style>
[data-testid="stWidgetLabel"] p, [data-testid="stSelectbox"] input,
[data-testid="stCaptionContainer"] p, [data-testid="stSliderThumbValue"],
[data-testid="stSliderTickBarMin"], [data-testid="stSliderTickBarMax"],
[data-testid="stBaseButton-secondary"] p { font-size: 16px !important; }
</style>"""
COMPACT_CSS = """<style>
header[data-testid="stHeader"] { display: none; }
.block-container { padding: 0.6rem 1rem 1rem 1rem !important; max-width: 100% !important; }
div[data-testid="stVerticalBlock"] { gap: 0.45rem; }
[data-testid="stWidgetLabel"] p { font-size: 0.72rem; text-transform: uppercase; color: #555; }
/* Streamlit's captions are grey at 60% (#828180 on white, 3.9:1; some are also at 60%
   opacity, 2.7:1): too faint to read. Ink at 80% is 6.3:1, past WCAG's 4.5:1 */
[data-testid="stCaptionContainer"] { color: rgba(49, 51, 63, 0.8) !important;
  opacity: 1 !important; }
</style>"""


def hidden_parts_css(config) -> str:
    selectors = ", ".join(HIDE_SELECTORS[name] for name in config.hide)
    return f"<style>{selectors} {{ display: none !important; }}</style>" if selectors else ""
