"""transfuse.adapters"""
