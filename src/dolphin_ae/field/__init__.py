"""The field tool: detect non-silent regions and embed them over long recordings."""
