"""transfuse.training"""
