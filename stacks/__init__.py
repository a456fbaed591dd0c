"""CloudFormation stacks: they only wire components together, make grants and add outputs."""
