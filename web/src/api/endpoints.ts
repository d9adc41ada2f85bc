// One small typed function per backend call the app makes.
import { api, call } from "./client";
import { normalizePair, type PairCreate, type PairQuery, type PairUpdate } from "./types";

export const login = (username: string, password: string) =>
  call(api.POST("/api/v1/auth/login", { body: { username, password } }));

export const fetchCurrentUser = () => call(api.GET("/api/v1/auth/me"));

export const listCountries = () => call(api.GET("/api/v1/countries"));

export const listPrograms = () => call(api.GET("/api/v1/programs"));

export const listPairs = async (query: PairQuery) =>
  (await call(api.GET("/api/v1/pairs", { params: { query } }))).map(normalizePair);

export const createPair = async (body: PairCreate) =>
  normalizePair(await call(api.POST("/api/v1/pairs", { body })));

export const updatePair = async (key: string, body: PairUpdate, force = false) =>
  normalizePair(
    await call(
      api.PATCH("/api/v1/pairs/{key}", {
        params: { path: { key }, query: force ? { force } : {} },
        body,
      }),
    ),
  );

export const deletePair = (key: string, force = false) =>
  call(
    api.DELETE("/api/v1/pairs/{key}", {
      params: { path: { key }, query: force ? { force } : {} },
    }),
  );
