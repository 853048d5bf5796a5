"""``roadseg models``: list architectures and shipped weights."""

from __future__ import annotations

import click


@click.command()
def models() -> None:
    """List architectures (with parameter counts) and the weights shipped with roadseg."""
    from roadseg.models import ARCHITECTURES, available_weights, build, count_parameters
    from roadseg.models.checkpoint import checkpoint_size_mb, read_metadata, resolve_checkpoint

    click.echo("Architectures (article configuration, 3 bands in, 1 class out):")
    for name, arch in ARCHITECTURES.items():
        params = count_parameters(build(name))
        click.echo(
            f"  {name:<10} {arch.cls.__name__:<16} base_channels={arch.default_base_channels:<3} "
            f"{params / 1e6:6.2f} M parameters  [{arch.reference}]"
        )
    click.echo("\nShipped weights:")
    names = available_weights()
    if not names:
        click.echo("  (none installed)")
    for name in names:
        meta = read_metadata(name)
        metrics = ", ".join(
            f"{k}={v:.3f}" for k, v in meta.metrics.items() if isinstance(v, int | float)
        )
        click.echo(
            f"  {name:<14} {meta.architecture} base_channels={meta.arch_kwargs.get('base_channels')} "
            f"bands={','.join(meta.band_names)} gsd={meta.gsd_m:g} m "
            f"threshold={meta.threshold:g} {checkpoint_size_mb(resolve_checkpoint(name))} MB"
            + (f"  [{metrics}]" if metrics else "")
        )
