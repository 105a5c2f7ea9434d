"""Deployment helpers run by the Makefile (the CloudFormation and Terraform files live beside them)."""
