"""``roadseg models``: list architectures and shipped weights."""

from __future__ import annotations

import click

#: What ``roadseg models`` lists: (architecture, its arguments, the label shown).
LISTED: tuple[tuple[str, dict[str, object], str], ...] = (
    ("unet", {}, "unet"),
    ("resunet", {}, "resunet"),
    ("resunet", {"encoder": "mobilenet_v2", "base_channels": 8}, "resunet (mobilenet_v2)"),
    ("resunetpp", {}, "resunetpp"),
)


@click.command()
def models() -> None:
    """List architectures (parameters, arithmetic per pixel) and the shipped weights."""
    from roadseg.models import available_weights, build, count_parameters, get_architecture
    from roadseg.models.checkpoint import checkpoint_size_mb, read_metadata, resolve_checkpoint
    from roadseg.models.complexity import flops_per_pixel
    from roadseg.raster.grid import resolutions_text

    click.echo("Architectures (3 bands in, 1 class out; GFLOP per megapixel of input):")
    for name, kwargs, label in LISTED:
        arch = get_architecture(name)
        model = build(name, **kwargs)
        width = model.base_channels
        click.echo(
            f"  {label:<24} {arch.cls.__name__:<16} base_channels={width:<3} "
            f"{count_parameters(model) / 1e6:6.2f} M parameters "
            f"{flops_per_pixel(model) / 1e3:7.1f} GFLOP/Mpx  [{arch.reference}{encoder_reference(kwargs)}]"
        )
    click.echo("\nShipped weights:")
    names = available_weights()
    if not names:
        click.echo("  (none installed)")
    for name in names:
        meta = read_metadata(name)
        model = build(meta.architecture, **meta.arch_kwargs)
        metrics = ", ".join(
            f"{k}={v:.3f}" for k, v in meta.metrics.items() if isinstance(v, int | float)
        )
        encoder = meta.arch_kwargs.get("encoder", "residual")
        click.echo(
            f"  {name:<14} {meta.architecture} encoder={encoder} "
            f"base_channels={meta.arch_kwargs.get('base_channels')} "
            f"{count_parameters(model) / 1e6:.2f} M parameters "
            f"{flops_per_pixel(model) / 1e3:.1f} GFLOP/Mpx "
            f"bands={','.join(meta.band_names)} gsd={resolutions_text(meta.gsd_m, meta.max_gsd_m)} m "
            f"threshold={meta.threshold:g} {checkpoint_size_mb(resolve_checkpoint(name))} MB"
            + (f"  [{metrics}]" if metrics else "")
        )


def encoder_reference(kwargs: dict[str, object]) -> str:
    """The encoder's article, where it is not the architecture's own."""
    return "; encoder: Sandler et al. 2018" if kwargs.get("encoder") == "mobilenet_v2" else ""
